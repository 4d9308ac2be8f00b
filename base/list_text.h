// Lists written as text in parameters: "books, mixture" (eval.corpus), "sst-2,squad1" (eval.tasks),
// and lists of choices written in messages: "local or slurm".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ablate {

// `s` without ASCII whitespace (space, tab, CR, LF) at either end.
std::string_view TrimSpace(std::string_view s);

// The comma-separated entries of `text`, each trimmed: "a, b,c" -> {"a", "b", "c"}. Text that is
// empty or only whitespace has none; an empty entry ("a,,b", "a,") is kept as "" for the caller
// to refuse with its own message.
std::vector<std::string_view> CommaList(std::string_view text);

// The items as a sentence's list: "a", "a or b", "a, b or c"; "" for none.
std::string OrList(const std::vector<std::string>& items);

}  // namespace ablate
