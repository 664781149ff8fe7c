#include "heed/nn/module_dict.h"

namespace heed::nn {

ModuleDict::ModuleDict(std::initializer_list<std::pair<std::string, std::shared_ptr<Module>>> members) {
  for (const auto& [key, module] : members) insert(key, module);
}

bool ModuleDict::contains(const std::string& key) const {
  for (const auto& [k, module] : named_children())
    if (k == key) return true;
  return false;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [k, module] : named_children()) out.push_back(k);
  return out;
}

std::shared_ptr<Module> ModuleDict::operator[](const std::string& key) const {
  for (const auto& [k, module] : named_children())
    if (k == key) return module;
  std::string known;
  for (const std::string& k : keys()) known += (known.empty() ? "'" : ", '") + k + "'";
  throw IndexError(msg("ModuleDict: no module under the key '", key, "'; the keys are ",
                       known.empty() ? std::string("none (the dict is empty)") : known));
}

void ModuleDict::throw_wrong_type(const std::string& key) const {
  throw ValueError(msg("ModuleDict: the module under '", key, "' is not of the type asked for"));
}

}  // namespace heed::nn
