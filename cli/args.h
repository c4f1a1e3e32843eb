// A small command-line parser for the `meridian` subcommands: `--name value`, `--name=value`,
// boolean `--flag`, and positional arguments, in any order. Unknown flags are usage errors
// (exit code 2), so a typo never silently changes what a command does.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace meridian::cli {

class Args {
 public:
  // `value_flags` take a value, `bool_flags` do not. Returns false with `error` set on a usage error.
  bool Parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
             const std::set<std::string>& bool_flags, std::string* error);

  std::optional<std::string> Get(const std::string& name) const;
  std::string GetOr(const std::string& name, const std::string& fallback) const;
  bool Has(const std::string& name) const { return values_.count(name) > 0 || flags_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace meridian::cli
