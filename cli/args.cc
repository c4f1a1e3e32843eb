#include "cli/args.h"

namespace meridian::cli {

bool Args::Parse(int argc, char** argv, int first, const std::set<std::string>& value_flags,
                 const std::set<std::string>& bool_flags, std::string* error) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = name.find('='); eq != std::string::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (value_flags.count(name)) {
        if (inline_value) {
          values_[name] = *inline_value;
        } else if (i + 1 < argc) {
          values_[name] = argv[++i];
        } else {
          *error = "--" + name + " needs a value";
          return false;
        }
      } else if (bool_flags.count(name) && !inline_value) {
        flags_.insert(name);
      } else {
        *error = "unknown option --" + name;
        return false;
      }
    } else {
      positional_.push_back(a);
    }
  }
  return true;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::GetOr(const std::string& name, const std::string& fallback) const {
  auto v = Get(name);
  return v ? *v : fallback;
}

}  // namespace meridian::cli
