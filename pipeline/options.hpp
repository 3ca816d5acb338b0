// SPDX-License-Identifier: Apache-2.0
#pragma once
// Typed stage options, declared once with description, unit, default and range, bound to
// the stage member they fill (PDAL's ProgramArgs idea). Unknown keys, wrong types and
// out-of-range values are ConfigErrors that name the option and say what would be right.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fieldrx {

using StringList = std::vector<std::string>;
using NumberList = std::vector<double>;
using StringMap = std::map<std::string, std::string>;

class OptionSpec {
 public:
  OptionSpec& unit(std::string u) { unit_ = std::move(u); return *this; }
  OptionSpec& range(double min, double max) { min_ = min; max_ = max; return *this; }
  OptionSpec& choices(StringList allowed) { choices_ = std::move(allowed); return *this; }
  OptionSpec& required() { required_ = true; return *this; }

  const std::string& key() const { return key_; }
  const std::string& type_name() const { return type_name_; }
  const std::string& description() const { return description_; }
  const std::string& unit_name() const { return unit_; }
  const std::string& default_text() const { return default_text_; }
  std::optional<double> min() const { return min_; }
  std::optional<double> max() const { return max_; }
  const StringList& allowed() const { return choices_; }
  bool is_required() const { return required_; }
  bool was_set() const { return set_; }
  // One line for `fieldrx stages` and errors: "key (type, unit, default ..., range ...)".
  std::string summary() const;

 private:
  friend class OptionSet;
  std::string key_, type_name_, description_, unit_, default_text_;
  std::optional<double> min_, max_;
  StringList choices_;
  bool required_ = false;
  bool set_ = false;
  std::function<void(const YAML::Node&, const OptionSpec&)> assign_;
};

class OptionSet {
 public:
  OptionSpec& add(const std::string& key, bool& target, const std::string& description,
                  bool default_value);
  OptionSpec& add(const std::string& key, int& target, const std::string& description,
                  int default_value);
  OptionSpec& add(const std::string& key, double& target, const std::string& description,
                  double default_value);
  OptionSpec& add(const std::string& key, std::string& target, const std::string& description,
                  const std::string& default_value);
  OptionSpec& add(const std::string& key, StringList& target, const std::string& description,
                  const StringList& default_value);
  OptionSpec& add(const std::string& key, NumberList& target, const std::string& description,
                  const NumberList& default_value);
  OptionSpec& add(const std::string& key, StringMap& target, const std::string& description,
                  const StringMap& default_value);

  // Sets one option from a YAML value; a plain string from the command line is parsed as YAML.
  void set(const std::string& key, const YAML::Node& value);
  void set_text(const std::string& key, const std::string& text);
  void check_required() const;
  const std::vector<OptionSpec>& specs() const { return specs_; }
  bool was_set(const std::string& key) const;

 private:
  OptionSpec& declare(const std::string& key, const std::string& type_name,
                      const std::string& description, const std::string& default_text);
  std::vector<OptionSpec> specs_;
};

// "1/10000", "0.0001" and "1e-4" all give 1e-4; throws std::invalid_argument otherwise.
double parse_number(const std::string& text);

}  // namespace fieldrx
