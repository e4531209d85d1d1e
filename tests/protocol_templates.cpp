// Prompt templates, the prompt library, rendering and budgets.

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "llmmr/core/budget.hpp"
#include "llmmr/core/corrective_prompt.hpp"
#include "llmmr/core/prompt_library.hpp"
#include "llmmr/core/prompt_template.hpp"
#include "llmmr/core/protocol.hpp"
#include "llmmr/messages/error_kind.hpp"

using namespace llmmr;

namespace {

using vars_map = std::map<std::string, std::string, std::less<>>;

/// One token per started group of four bytes.
class quarter_tokenizer : public tokenizer {
public:
  size_t count(std::string_view text) const override {
    return (text.size() + 3) / 4;
  }
  std::string name() const override { return "quarter"; }
};

/// A scratch directory removed at scope exit.
struct scratch_dir {
  std::filesystem::path path;
  scratch_dir() {
    static std::atomic<int> n{0};
    path = std::filesystem::temp_directory_path()
           / ("llmmr-protocol-" + std::to_string(::getpid()) + "-"
              + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    auto file = path / rel;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream{file, std::ios::binary} << text;
  }
};

std::string message_of(const llmmr::error& err) {
  return describe(err);
}

constexpr task_profile all_profiles[] = {
  task_profile::qa,   task_profile::qa_zh,     task_profile::code,
  task_profile::math, task_profile::retrieval, task_profile::summary,
};

record sample_record(std::vector<uint32_t> chunks, std::string answer,
                     double confidence) {
  record r;
  r.chunks = std::move(chunks);
  r.extracted = "fact";
  r.rationale = "because";
  r.answer = std::move(answer);
  r.confidence = confidence;
  return r;
}

} // namespace

TEST_SUITE("protocol") {

  TEST_CASE("templates substitute named placeholders") {
    auto tpl
      = prompt_template::parse("t", "Q: {question}\n{chunk} {question}!");
    REQUIRE(tpl);
    CHECK_EQ(tpl->name(), "t");
    CHECK_EQ(tpl->placeholders(),
             std::vector<std::string>{"question", "chunk"});
    CHECK_EQ(tpl->occurrences("question"), 2u);
    auto out = tpl->render(
      vars_map{{"question", "why"}, {"chunk", "text"}, {"unused", "x"}});
    REQUIRE(out);
    CHECK_EQ(*out, "Q: why\ntext why!");
  }

  TEST_CASE("values are inserted verbatim, not expanded again") {
    auto tpl = prompt_template::parse("t", "[{chunk}]");
    REQUIRE(tpl);
    auto out = tpl->render(vars_map{{"chunk", "{question} {{x}}"}});
    REQUIRE(out);
    CHECK_EQ(*out, "[{question} {{x}}]");
  }

  TEST_CASE("double braces escape") {
    auto tpl = prompt_template::parse("t", R"({{"answer": {question}}} a}b)");
    REQUIRE(tpl);
    CHECK_EQ(tpl->placeholders(), std::vector<std::string>{"question"});
    auto out = tpl->render(vars_map{{"question", "42"}});
    REQUIRE(out);
    CHECK_EQ(*out, R"({"answer": 42} a}b)");
  }

  TEST_CASE("a missing variable is an error naming it and the template") {
    auto tpl = prompt_template::parse("qa/map.txt", "{question} {chunk}");
    REQUIRE(tpl);
    auto out = tpl->render(vars_map{{"question", "q"}});
    REQUIRE(!out);
    auto msg = message_of(out.error());
    CHECK_NE(msg.find("{chunk}"), std::string::npos);
    CHECK_NE(msg.find("qa/map.txt"), std::string::npos);
  }

  TEST_CASE("syntax errors name the template and the position") {
    auto unterminated
      = prompt_template::parse("a.txt", "line one\n  {question");
    REQUIRE(!unterminated);
    auto msg = message_of(unterminated.error());
    CHECK_EQ(kind_of(unterminated.error()), error_kind::config);
    CHECK_NE(msg.find("a.txt"), std::string::npos);
    CHECK_NE(msg.find("line 2, column 3"), std::string::npos);
    CHECK(!prompt_template::parse("b", "{}"));
    CHECK(!prompt_template::parse("c", "{bad name}"));
    CHECK(!prompt_template::parse("d", "{1st}"));
  }

  TEST_CASE("prompt stages convert to and from strings") {
    for (auto s :
         {prompt_stage::map, prompt_stage::collapse, prompt_stage::reduce}) {
      prompt_stage back = prompt_stage::map;
      REQUIRE(from_string(to_string(s), back));
      CHECK_EQ(back, s);
    }
    prompt_stage x;
    CHECK(!from_string("mapper", x));
  }

  TEST_CASE("the built-in library has every profile's three templates") {
    auto lib = prompt_library::builtin();
    REQUIRE_MESSAGE(lib, message_of(lib.error()));
    for (auto p : all_profiles) {
      CAPTURE(to_string(p));
      CHECK_EQ(lib->rubric(p).empty(), p == task_profile::summary);
      job_spec spec;
      spec.profile = p;
      spec.question = "QUESTION-MARK";
      auto map = render_map_prompt(*lib, spec, "CHUNK-TEXT");
      REQUIRE(map);
      CHECK_NE(map->find("QUESTION-MARK"), std::string::npos);
      CHECK_NE(map->find("CHUNK-TEXT"), std::string::npos);
      CHECK_EQ(map->find('{'), std::string::npos);
      if (uses_scores(p))
        CHECK_NE(map->find(lib->rubric(p)), std::string::npos);
      std::vector<record> recs{sample_record({0}, "A1", 5),
                               sample_record({3, 4, 5, 9}, "A2", 3.5)};
      auto collapse = render_collapse_prompt(*lib, spec, recs);
      auto reduce = render_reduce_prompt(*lib, spec, recs);
      REQUIRE(collapse);
      REQUIRE(reduce);
      for (auto* text : {&*collapse, &*reduce}) {
        CHECK_NE(text->find("QUESTION-MARK"), std::string::npos);
        CHECK_NE(text->find("A1"), std::string::npos);
        CHECK_NE(text->find("A2"), std::string::npos);
        if (uses_scores(p))
          CHECK_NE(text->find(lib->rubric(p)), std::string::npos);
      }
    }
  }

  TEST_CASE("the Chinese profile uses Chinese markers and headers") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    auto& map = lib->get(task_profile::qa_zh, prompt_stage::map).text();
    for (auto marker :
         {"提取的信息", "推理过程", "答案", "置信度", "无相关信息"})
      CHECK_NE(map.find(marker), std::string::npos);
    auto text
      = render_record(task_profile::qa_zh, sample_record({2, 3}, "北京", 4.5));
    CHECK_EQ(text,
             "【第3-4段】\n提取的信息：fact\n推理过程：because\n答案：北京\n"
             "置信度：4.5");
  }

  TEST_CASE("the retrieval prompts carry the hard rule") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    auto& rubric = lib->rubric(task_profile::retrieval);
    CHECK_NE(rubric.find("5"), std::string::npos);
    CHECK_NE(rubric.find("4.5"), std::string::npos);
    for (auto s : {prompt_stage::collapse, prompt_stage::reduce})
      CHECK_NE(lib->get(task_profile::retrieval, s)
                 .text()
                 .find("only the notes "
                       "that score 5"),
               std::string::npos);
  }

  TEST_CASE("records render under a header naming their chunks") {
    auto r = sample_record({4}, "Paris", 5);
    CHECK_EQ(render_record(task_profile::qa, r),
             "[Part 5]\nExtracted information: fact\nRationale: because\n"
             "Answer: Paris\nConfidence score: 5");
    r.chunks = {0, 1, 2, 7, 9, 10};
    r.no_information = true;
    r.answer.clear();
    r.confidence = 0;
    auto text = render_record(task_profile::qa, r);
    CHECK(text.starts_with("[Parts 1-3, 8, 10-11]\n"));
    CHECK_NE(text.find("Answer: No information"), std::string::npos);
    record s;
    s.chunks = {1};
    s.answer = "A summary.";
    CHECK_EQ(render_record(task_profile::summary, s), "[Part 2]\nA summary.");
    CHECK_EQ(render_records(task_profile::summary, {s, s}),
             "[Part 2]\nA summary.\n\n[Part 2]\nA summary.");
  }

  TEST_CASE("the JSON schemas name the record fields") {
    auto schema = record_json_schema(task_profile::qa);
    for (auto key : {"extracted_information", "rationale", "answer",
                     "confidence", "\"required\""})
      CHECK_NE(schema.find(key), std::string::npos);
    CHECK_NE(record_json_schema(task_profile::summary).find("summary"),
             std::string::npos);
    auto final_schema = final_answer_json_schema(task_profile::qa);
    CHECK_EQ(final_schema.find("extracted_information"), std::string::npos);
    CHECK_NE(final_schema.find("rationale"), std::string::npos);
  }

  TEST_CASE("a user directory overrides single files") {
    scratch_dir dir;
    dir.write("qa/map.txt", "MINE {question} / {chunk}");
    dir.write("qa/rubric.txt", "MY RUBRIC\n");
    dir.write("README.md", "not a template, ignored");
    auto lib = prompt_library::load(dir.path.string());
    REQUIRE_MESSAGE(lib, message_of(lib.error()));
    auto builtin = prompt_library::builtin();
    REQUIRE(builtin);
    CHECK_EQ(lib->get(task_profile::qa, prompt_stage::map).text(),
             "MINE {question} / {chunk}");
    CHECK_NE(lib->get(task_profile::qa, prompt_stage::map)
               .name()
               .find(dir.path.string()),
             std::string::npos);
    CHECK_EQ(lib->rubric(task_profile::qa), "MY RUBRIC");
    CHECK_EQ(lib->get(task_profile::qa, prompt_stage::reduce).text(),
             builtin->get(task_profile::qa, prompt_stage::reduce).text());
    CHECK_EQ(lib->rubric(task_profile::code),
             builtin->rubric(task_profile::code));
    job_spec spec;
    spec.question = "q?";
    auto out = render_map_prompt(*lib, spec, "body");
    REQUIRE(out);
    CHECK_EQ(*out, "MINE q? / body");
  }

  TEST_CASE("bad override files are errors naming the file") {
    SUBCASE("unknown placeholder") {
      scratch_dir dir;
      dir.write("code/collapse.txt", "{question} {records} {chunk}");
      auto lib = prompt_library::load(dir.path.string());
      REQUIRE(!lib);
      auto msg = message_of(lib.error());
      CHECK_EQ(kind_of(lib.error()), error_kind::config);
      CHECK_NE(msg.find("code/collapse.txt"), std::string::npos);
      CHECK_NE(msg.find("{chunk}"), std::string::npos);
    }
    SUBCASE("missing payload") {
      scratch_dir dir;
      dir.write("math/map.txt", "{question} only");
      auto lib = prompt_library::load(dir.path.string());
      REQUIRE(!lib);
      auto msg = message_of(lib.error());
      CHECK_NE(msg.find("math/map.txt"), std::string::npos);
      CHECK_NE(msg.find("{chunk}"), std::string::npos);
    }
    SUBCASE("missing question") {
      scratch_dir dir;
      dir.write("summary/reduce.txt", "{records}");
      auto lib = prompt_library::load(dir.path.string());
      REQUIRE(!lib);
      CHECK_NE(message_of(lib.error()).find("{question}"), std::string::npos);
    }
    SUBCASE("payload twice") {
      scratch_dir dir;
      dir.write("qa/map.txt", "{question} {chunk} {chunk}");
      CHECK(!prompt_library::load(dir.path.string()));
    }
    SUBCASE("syntax error") {
      scratch_dir dir;
      dir.write("qa_zh/reduce.txt", "{question}\n{records}\n{oops");
      auto lib = prompt_library::load(dir.path.string());
      REQUIRE(!lib);
      auto msg = message_of(lib.error());
      CHECK_NE(msg.find("qa_zh/reduce.txt"), std::string::npos);
      CHECK_NE(msg.find("line 3"), std::string::npos);
    }
    SUBCASE("unknown file name") {
      scratch_dir dir;
      dir.write("qa/mapp.txt", "{question} {chunk}");
      auto lib = prompt_library::load(dir.path.string());
      REQUIRE(!lib);
      CHECK_NE(message_of(lib.error()).find("qa/mapp.txt"), std::string::npos);
    }
    SUBCASE("missing directory") {
      auto lib = prompt_library::load("/nonexistent/llmmr/prompts");
      REQUIRE(!lib);
      CHECK_NE(message_of(lib.error()).find("/nonexistent/llmmr/prompts"),
               std::string::npos);
    }
  }

  TEST_CASE("budgets subtract template, question and reserved output") {
    scratch_dir dir;
    // 16 bytes of template text each (4 tokens with the test tokenizer),
    // placeholders rendering empty.
    dir.write("qa/map.txt", "map-template-16b{question}{chunk}");
    dir.write("qa/collapse.txt", "collapse-tpl-16b{question}{records}");
    dir.write("qa/reduce.txt", "{question}reduce-tpl-16b{records}{question}");
    dir.write("qa/rubric.txt", "rubric-8");
    auto lib = prompt_library::load(dir.path.string());
    REQUIRE_MESSAGE(lib, message_of(lib.error()));
    quarter_tokenizer tok;
    job_spec spec;
    spec.question = std::string(40, 'q'); // 10 tokens
    spec.budget = 1000;
    spec.max_tokens = 200;
    spec.reduce_max_tokens = 200;
    // Without re-asks no room is kept for a corrective note.
    spec.reask_unparsable = 0;
    auto b = compute_budget(spec, *lib, tok);
    REQUIRE_MESSAGE(b, message_of(b.error()));
    CHECK_EQ(b->total, 1000u);
    CHECK_EQ(b->reserved_output, 200u);
    CHECK_EQ(b->question_tokens, 10u);
    CHECK_EQ(b->map_template_tokens, 4u);
    CHECK_EQ(b->collapse_template_tokens, 4u);
    CHECK_EQ(b->chunk_payload, 1000u - 4 - 10 - 200);
    // The question is counted in the collapse budget too.
    CHECK_EQ(b->collapse_payload, 1000u - 4 - 10 - 200);
    // The reduce template repeats the question: both copies are paid for.
    CHECK_EQ(b->reduce_payload, 1000u - 4 - 2 * 10 - 200);
    SUBCASE("the rubric is part of the template cost") {
      dir.write("qa/map.txt", "map-template-16b{question}{chunk}{rubric}");
      auto lib2 = prompt_library::load(dir.path.string());
      REQUIRE(lib2);
      auto b2 = compute_budget(spec, *lib2, tok);
      REQUIRE(b2);
      CHECK_EQ(b2->map_template_tokens, 6u);
      CHECK_EQ(b2->chunk_payload, 1000u - 6 - 10 - 200);
    }
    SUBCASE("re-asks keep room for the corrective note") {
      spec.reask_unparsable = 1;
      auto b5 = compute_budget(spec, *lib, tok);
      REQUIRE(b5);
      for (auto stage :
           {prompt_stage::map, prompt_stage::collapse, prompt_stage::reduce}) {
        auto note = tok.count(longest_corrective_note(spec.profile, stage));
        CHECK_GT(note, 10u);
        if (stage == prompt_stage::map)
          CHECK_EQ(b5->chunk_payload, b->chunk_payload - note);
        if (stage == prompt_stage::reduce)
          CHECK_EQ(b5->reduce_payload, b->reduce_payload - note);
      }
    }
    SUBCASE("the reduce call reserves more output by default") {
      spec.reduce_max_tokens = 0;
      auto b6 = compute_budget(spec, *lib, tok);
      REQUIRE(b6);
      // R + min(R, L / 16) = 200 + 62.
      CHECK_EQ(b6->reduce_reserved_output, 262u);
      CHECK_EQ(b6->reduce_payload, b->reduce_payload - 62);
    }
    SUBCASE("the default reserved output depends on the profile") {
      spec.max_tokens = 0;
      auto b3 = compute_budget(spec, *lib, tok);
      REQUIRE(b3);
      CHECK_EQ(b3->reserved_output, 300u);
      spec.profile = task_profile::summary;
      spec.budget = 4096;
      auto b4 = compute_budget(spec, prompt_library::builtin().value(), tok);
      REQUIRE(b4);
      CHECK_EQ(b4->reserved_output, 1500u);
    }
  }

  TEST_CASE("a budget too small for any payload is an error naming numbers") {
    auto lib = prompt_library::builtin();
    REQUIRE(lib);
    quarter_tokenizer tok;
    job_spec spec;
    spec.question = "What is the pass key?";
    spec.profile = task_profile::retrieval;
    spec.budget = 400;
    spec.max_tokens = 300;
    auto b = compute_budget(spec, *lib, tok);
    REQUIRE(!b);
    CHECK_EQ(kind_of(b.error()), error_kind::budget);
    auto msg = message_of(b.error());
    CHECK_NE(msg.find("L=400"), std::string::npos);
    CHECK_NE(msg.find("reserved output 300"), std::string::npos);
    CHECK_NE(msg.find("at least 64"), std::string::npos);
    // The reference setting (L = 4096, R = 300) fits every profile.
    spec.budget = 4096;
    for (auto p : all_profiles) {
      spec.profile = p;
      spec.max_tokens = 0;
      auto ok = compute_budget(spec, *lib, tok);
      REQUIRE_MESSAGE(ok, message_of(ok.error()));
      CHECK_GT(ok->chunk_payload, 2400u);
    }
  }

} // TEST_SUITE
