// Tests for the UTF-8 helpers in core/utf8.hpp.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "llmmr/core/utf8.hpp"

using namespace std::literals;
namespace utf8 = llmmr::utf8;

TEST_SUITE("core") {

  TEST_CASE("utf8: decode accepts every sequence length") {
    auto d = utf8::decode("A", 0);
    CHECK(d.state == utf8::status::ok);
    CHECK(d.code_point == U'A');
    CHECK(d.length == 1);
    d = utf8::decode("\xC3\xA9", 0); // é
    CHECK(d.state == utf8::status::ok);
    CHECK(d.code_point == 0xE9);
    CHECK(d.length == 2);
    d = utf8::decode("\xE4\xB8\xAD", 0); // 中
    CHECK(d.state == utf8::status::ok);
    CHECK(d.code_point == 0x4E2D);
    CHECK(d.length == 3);
    d = utf8::decode("\xF0\x9F\x98\x80", 0); // emoji
    CHECK(d.state == utf8::status::ok);
    CHECK(d.code_point == 0x1F600);
    CHECK(d.length == 4);
  }

  TEST_CASE("utf8: decode rejects ill-formed sequences") {
    // Lone continuation byte, overlong leads, bytes that never appear.
    for (auto s : {"\x80"sv, "\xC0\xAF"sv, "\xC1\xBF"sv, "\xF5\x80\x80\x80"sv,
                   "\xFF"sv}) {
      auto d = utf8::decode(s, 0);
      CHECK(d.state == utf8::status::invalid);
      CHECK(d.length == 1);
    }
    // Overlong three-byte form, surrogate, beyond U+10FFFF: the second byte
    // is out of range, so the maximal well-formed prefix is the lead alone.
    for (auto s : {"\xE0\x80\x80"sv, "\xED\xA0\x80"sv, "\xF4\x90\x80\x80"sv,
                   "\xF0\x80\x80\x80"sv}) {
      auto d = utf8::decode(s, 0);
      CHECK(d.state == utf8::status::invalid);
      CHECK(d.length == 1);
    }
    // A missing continuation: lead and one good byte form the bad prefix.
    auto d = utf8::decode("\xE4\xB8"
                          "A",
                          0);
    CHECK(d.state == utf8::status::invalid);
    CHECK(d.length == 2);
  }

  TEST_CASE("utf8: decode reports sequences cut off by the end") {
    auto d = utf8::decode("\xE4\xB8", 0);
    CHECK(d.state == utf8::status::incomplete);
    CHECK(d.length == 2);
    d = utf8::decode("\xF0", 0);
    CHECK(d.state == utf8::status::incomplete);
    CHECK(d.length == 1);
  }

  TEST_CASE("utf8: find_invalid names the first bad byte") {
    CHECK(utf8::find_invalid("plain ASCII text, long enough for 8-byte steps")
          == std::string_view::npos);
    CHECK(utf8::find_invalid("mixed 中文 and emoji \xF0\x9F\x98\x80 ok")
          == std::string_view::npos);
    CHECK(utf8::find_invalid("abcdefghij\x80xyz") == 10);
    CHECK(utf8::find_invalid("abcdefghijklmnop\xE4\xB8") == 16);
    auto with_nul = "abcdefghijkl\0mn"sv;
    CHECK(utf8::find_invalid(with_nul) == 12);
    CHECK(utf8::find_invalid(with_nul, false) == std::string_view::npos);
    CHECK(utf8::is_valid("中文"));
    CHECK(!utf8::is_valid("\xED\xA0\x80"));
  }

  TEST_CASE("utf8: boundaries and length") {
    auto s = "a中b"sv; // 1 + 3 + 1 bytes
    CHECK(utf8::ceil_boundary(s, 0) == 0);
    CHECK(utf8::ceil_boundary(s, 2) == 4);
    CHECK(utf8::ceil_boundary(s, 5) == 5);
    CHECK(utf8::floor_boundary(s, 3) == 1);
    CHECK(utf8::floor_boundary(s, 4) == 4);
    CHECK(utf8::floor_boundary(s, 9) == 5);
    CHECK(utf8::length(s) == 3);
    CHECK(utf8::sequence_length(0xF0) == 4);
    CHECK(utf8::sequence_length(0xC1) == 0);
    CHECK(utf8::replacement == "\xEF\xBF\xBD");
  }

} // TEST_SUITE
