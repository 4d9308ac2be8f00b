#include "core/sentence_splitter.h"

#include <catch2/catch.hpp>

using ablate::core::SplitSentences;
using V = std::vector<std::string_view>;

TEST_CASE("sentences end at . ! ? before a capital", "[sentences]") {
  CHECK(SplitSentences("It was cold. The wind blew! Did it snow? Yes.") ==
        V{"It was cold.", "The wind blew!", "Did it snow?", "Yes."});
  CHECK(SplitSentences("  One sentence without an end  ") == V{"One sentence without an end"});
  CHECK(SplitSentences("").empty());
  // No split before a lower-case word or inside numbers.
  CHECK(SplitSentences("It cost 3.50 dollars. then it rose.") ==
        V{"It cost 3.50 dollars. then it rose."});
}

TEST_CASE("titles, initials and Latin abbreviations do not end sentences", "[sentences]") {
  CHECK(SplitSentences("Mr. Darcy met Mrs. Bennet and Dr. Jones at St. Paul's. They talked.") ==
        V{"Mr. Darcy met Mrs. Bennet and Dr. Jones at St. Paul's.", "They talked."});
  CHECK(SplitSentences("J. R. R. Tolkien wrote it. U.S. readers loved it.") ==
        V{"J. R. R. Tolkien wrote it.", "U.S. readers loved it."});
  CHECK(SplitSentences("Bring fruit, e.g. Apples and pears. Then go.") ==
        V{"Bring fruit, e.g. Apples and pears.", "Then go."});
  CHECK(SplitSentences("See No. 5 on the list. It is red.") ==
        V{"See No. 5 on the list.", "It is red."});
  // "etc." before a capital does end the sentence.
  CHECK(SplitSentences("We sold pens, ink, etc. The shop closed.") ==
        V{"We sold pens, ink, etc.", "The shop closed."});
}

TEST_CASE("quotes and dialogue stay with their sentence", "[sentences]") {
  CHECK(SplitSentences("\"Stop!\" cried she. \"Why?\" he asked.") ==
        V{"\"Stop!\" cried she.", "\"Why?\" he asked."});
  CHECK(SplitSentences("\"I am tired.\" She sat down.") == V{"\"I am tired.\"", "She sat down."});
  CHECK(SplitSentences("He said, \u201cWe leave now.\u201d \u201cNow?\u201d asked Emma.") ==
        V{"He said, \u201cWe leave now.\u201d", "\u201cNow?\u201d asked Emma."});
  CHECK(SplitSentences("(This is aside.) Back to the story.") ==
        V{"(This is aside.)", "Back to the story."});
}

TEST_CASE("runs of terminators and ellipses", "[sentences]") {
  CHECK(SplitSentences("What?! No way... It cannot be\u2026 Really.") ==
        V{"What?!", "No way...", "It cannot be\u2026", "Really."});
}
