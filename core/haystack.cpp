#include "llmmr/core/haystack.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace llmmr {

namespace {

// Word lists for the filler grammar. None of them may share a five-letter
// prefix with "secret" or "passphrase": the needle must be the only sentence
// that mentions either.

constexpr std::array<std::string_view, 32> people
  = {"the harbor master",   "a retired sailor",
     "the village baker",   "two fishermen",
     "the old librarian",   "a young carpenter",
     "the ferry captain",   "several farmers",
     "the school teacher",  "a travelling poet",
     "the night watchman",  "the mayor's cousin",
     "a group of pupils",   "the lighthouse crew",
     "an elderly widow",    "the innkeeper",
     "a quiet clockmaker",  "the postmistress",
     "three dock workers",  "the choir director",
     "a visiting botanist", "the miller's son",
     "a weary messenger",   "the town surveyor",
     "the blacksmith",      "a pair of cyclists",
     "the river pilot",     "a painter from the coast",
     "the grocer",          "the museum guide",
     "a cheerful nurse",    "the orchard keeper"};

constexpr std::array<std::string_view, 32> actions
  = {"repaired", "painted", "counted",  "carried",  "inspected",    "described",
     "measured", "cleaned", "borrowed", "returned", "photographed", "sketched",
     "weighed",  "sorted",  "admired",  "polished", "mended",       "delivered",
     "moved",    "noticed", "recorded", "unloaded", "stacked",      "tested",
     "replaced", "planted", "watered",  "folded",   "labelled",     "collected",
     "arranged", "studied"};

constexpr std::array<std::string_view, 36> things
  = {"the wooden benches",   "a crate of apples",     "the broken gate",
     "the harbor crane",     "an old map of the bay", "the church bells",
     "a basket of herbs",    "the fishing nets",      "the station clock",
     "a stack of letters",   "the stone bridge",      "the bakery oven",
     "a row of bicycles",    "the library shelves",   "a barrel of cider",
     "the market stalls",    "the garden fence",      "a box of candles",
     "the ferry ropes",      "the tide tables",       "a pile of firewood",
     "the lamp posts",       "a jar of honey",        "the school windows",
     "the weather vane",     "a bundle of reeds",     "the mill wheel",
     "a sack of flour",      "the signal flags",      "the village well",
     "a set of copper pans", "the orchard ladders",   "the chapel doors",
     "a chest of tools",     "the boat sheds",        "a roll of canvas"};

constexpr std::array<std::string_view, 28> times
  = {"early on Monday",
     "before the rain began",
     "after the market closed",
     "during the long winter",
     "at the end of summer",
     "on a foggy morning",
     "late in the evening",
     "just before noon",
     "over the holidays",
     "while the tide was low",
     "in the first week of May",
     "after the storm",
     "on the coldest day of the year",
     "at sunrise",
     "between two ferries",
     "during the harvest",
     "on a quiet Sunday",
     "the following spring",
     "after a long delay",
     "in the autumn fog",
     "on market day",
     "before the festival",
     "at dusk",
     "in the middle of March",
     "when the bells rang",
     "as the boats came in",
     "on the third attempt",
     "some years ago"};

constexpr std::array<std::string_view, 24> places
  = {"near the north pier",  "behind the town hall",
     "by the river mouth",   "in the covered market",
     "outside the bakery",   "at the railway station",
     "along the sea wall",   "in the chapel yard",
     "beside the old mill",  "under the chestnut trees",
     "at the ferry landing", "on the village green",
     "inside the boat shed", "next to the fish market",
     "on the hill road",     "by the lighthouse",
     "in the school yard",   "at the crossroads",
     "behind the inn",       "along the canal",
     "in the walled garden", "near the customs house",
     "on the east quay",     "at the end of the lane"};

constexpr std::array<std::string_view, 24> feelings
  = {"calm",     "pleased",    "tired",    "curious",  "patient",   "cheerful",
     "puzzled",  "careful",    "hopeful",  "busy",     "relieved",  "proud",
     "amused",   "thoughtful", "restless", "content",  "surprised", "doubtful",
     "grateful", "quiet",      "eager",    "cautious", "satisfied", "weary"};

constexpr std::array<std::string_view, 24> weather
  = {"a cold wind blew in from the sea",
     "the sky cleared by midday",
     "a light drizzle fell for hours",
     "the fog lifted slowly",
     "the sun stayed low over the hills",
     "thunder rolled far to the west",
     "the air smelled of salt and tar",
     "frost covered the rooftops",
     "the river rose after the rain",
     "a warm breeze moved the flags",
     "clouds gathered over the bay",
     "the evening light turned golden",
     "snow settled on the quay",
     "the gulls circled above the boats",
     "the tide came in faster than usual",
     "the streets dried in the sun",
     "a rainbow hung over the orchard",
     "the wind changed twice",
     "heavy rain kept the market empty",
     "the night was clear and still",
     "mist hid the far shore",
     "the water in the harbor was glassy",
     "hail rattled on the windows",
     "a mild afternoon drew people outside"};

constexpr std::array<std::string_view, 20> reasons
  = {"because the old one had worn out",
     "so that the visitors could see it",
     "as the council had asked",
     "to prepare for the festival",
     "because nobody else had time",
     "after a long discussion",
     "to keep the rain out",
     "for the annual inventory",
     "to settle a friendly wager",
     "as a favour to a neighbour",
     "because the ledger said so",
     "before the inspectors arrived",
     "to make room for the new season",
     "at the request of the guild",
     "for the children's fair",
     "to see whether it still worked",
     "because the harbor was quiet",
     "on the advice of the doctor",
     "to pass the time",
     "for a small fee"};

constexpr std::array<std::string_view, 20> amounts
  = {"twelve",      "forty",     "three hundred", "seven",   "nineteen",
     "a dozen",     "sixty-two", "eighty",        "two",     "fifteen",
     "ninety",      "a hundred", "thirty-one",    "five",    "eleven",
     "twenty-four", "fifty",     "nine",          "seventy", "four"};

constexpr std::array<std::string_view, 32> passphrase_words
  = {"amber",  "birch",  "cobalt",  "delta",  "ember",   "fjord",  "garnet",
     "harbor", "indigo", "juniper", "kelp",   "lantern", "maple",  "nimbus",
     "onyx",   "pepper", "quartz",  "raven",  "saffron", "tundra", "umber",
     "violet", "willow", "xenon",   "yarrow", "zephyr",  "copper", "falcon",
     "lichen", "marble", "orchid",  "thistle"};

std::string capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z')
    s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

} // namespace

filler_text::filler_text(uint64_t seed)
  : rng_(seed * 0x9E3779B97F4A7C15ull + 7) {
  // nop
}

size_t filler_text::pick(size_t n) {
  return static_cast<size_t>(rng_() % n);
}

std::string filler_text::next_sentence() {
  auto p = [this](const auto& xs) { return std::string{xs[pick(xs.size())]}; };
  std::string s;
  switch (pick(9)) {
  case 0:
    s = p(people) + " " + p(actions) + " " + p(things) + " " + p(places);
    break;
  case 1:
    s = p(times) + ", " + p(people) + " " + p(actions) + " " + p(things);
    break;
  case 2:
    s = p(people) + " " + p(actions) + " " + p(things) + " " + p(reasons);
    break;
  case 3:
    s = p(times) + " " + p(weather);
    break;
  case 4:
    s = p(people) + " seemed " + p(feelings) + " when " + p(weather);
    break;
  case 5:
    s = "According to the parish ledger, " + p(people) + " " + p(actions) + " "
        + p(amounts) + " of " + p(things) + " " + p(times);
    break;
  case 6:
    s = p(places) + ", " + p(people) + " met " + p(people) + " and they "
        + p(actions) + " " + p(things) + " together";
    break;
  case 7:
    s = "Nobody remembers why " + p(people) + " " + p(actions) + " " + p(things)
        + " " + p(times) + ", but it made everyone " + p(feelings);
    break;
  default:
    s = "It took " + p(amounts) + " minutes before " + p(people) + " "
        + p(actions) + " " + p(things) + " " + p(places);
    break;
  }
  return capitalize(std::move(s)) + ".";
}

std::string filler_text::next_paragraph() {
  auto n = 4 + pick(5);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i > 0)
      out += ' ';
    out += next_sentence();
  }
  return out;
}

std::string haystack_passphrase(uint64_t seed) {
  std::mt19937_64 rng{seed ^ 0xA5A5'5A5A'1234'4321ull};
  auto word = passphrase_words[rng() % passphrase_words.size()];
  auto number = 1000 + rng() % 9000;
  return std::string{word} + "-" + std::to_string(number);
}

haystack make_haystack(const haystack_options& opts, const tokenizer& tok) {
  haystack out;
  out.answer = haystack_passphrase(opts.seed);
  out.needle = "The secret passphrase is " + out.answer + ".";
  out.question = "What is the secret passphrase?";
  auto depth = std::clamp(opts.depth, 0.0, 1.0);
  auto target = static_cast<uint64_t>(depth * static_cast<double>(opts.tokens));
  filler_text filler{opts.seed};
  bool placed = false;
  auto append = [&](std::string para, bool with_needle) {
    if (!out.text.empty())
      out.text += "\n\n";
    if (with_needle) {
      out.needle_offset = out.text.size();
      para.insert(0, para.empty() ? out.needle : out.needle + " ");
      placed = true;
    }
    out.tokens += tok.count(para) + 1;
    out.text += para;
  };
  while (out.tokens < opts.tokens)
    append(filler.next_paragraph(), !placed && out.tokens >= target);
  if (!placed)
    append(std::string{}, true);
  out.text += '\n';
  return out;
}

} // namespace llmmr
