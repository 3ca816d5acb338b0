// SPDX-License-Identifier: Apache-2.0
#include "pipeline/options.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "pipeline/errors.hpp"

namespace fieldrx {
namespace {

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string join(const StringList& items, const std::string& sep = ", ") {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string scalar_text(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : YAML::Dump(node);
}

// A list option accepts a YAML sequence or one comma-separated scalar (handy on the CLI).
StringList as_string_list(const YAML::Node& node, const OptionSpec& spec) {
  StringList items;
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar()) throw ConfigError("option '" + spec.key() + "': list items must be plain values");
      items.push_back(item.Scalar());
    }
  } else if (node.IsScalar()) {
    std::stringstream in(node.Scalar());
    std::string item;
    while (std::getline(in, item, ',')) {
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty()) items.push_back(item);
    }
  } else if (!node.IsNull()) {
    throw ConfigError("option '" + spec.key() + "' expects a list, got " + YAML::Dump(node));
  }
  return items;
}

double as_number(const std::string& text, const OptionSpec& spec) {
  double value = 0;
  try {
    value = parse_number(text);
  } catch (const std::invalid_argument&) {
    throw ConfigError("option '" + spec.key() + "' expects a number" +
                      (spec.unit_name().empty() ? "" : " in " + spec.unit_name()) + ", got '" +
                      text + "'");
  }
  if ((spec.min() && value < *spec.min()) || (spec.max() && value > *spec.max())) {
    throw ConfigError("option '" + spec.key() + "' is " + text + ", outside its range [" +
                      format_number(*spec.min()) + ", " + format_number(*spec.max()) + "]" +
                      (spec.unit_name().empty() ? "" : " " + spec.unit_name()));
  }
  return value;
}

void check_choice(const std::string& value, const OptionSpec& spec) {
  const auto& allowed = spec.allowed();
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    throw ConfigError("option '" + spec.key() + "': '" + value + "' is not one of [" +
                      join(allowed) + "]");
  }
}

}  // namespace

double parse_number(const std::string& text) {
  auto parse_plain = [](const std::string& s) {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    if (s.find_first_not_of(" \t", used) != std::string::npos) throw std::invalid_argument(s);
    return v;
  };
  try {
    const auto slash = text.find('/');
    if (slash == std::string::npos) return parse_plain(text);
    const double den = parse_plain(text.substr(slash + 1));
    if (den == 0) throw std::invalid_argument(text);
    return parse_plain(text.substr(0, slash)) / den;
  } catch (const std::out_of_range&) {
    throw std::invalid_argument(text);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(text);
  }
}

std::string OptionSpec::summary() const {
  std::string out = key_ + " (" + type_name_;
  if (!unit_.empty()) out += ", " + unit_;
  out += required_ ? ", required" : ", default " + (default_text_.empty() ? "none" : default_text_);
  if (min_ && max_) out += ", range [" + format_number(*min_) + ", " + format_number(*max_) + "]";
  if (!choices_.empty()) out += ", one of: " + join(choices_, "|");
  return out + ")";
}

OptionSpec& OptionSet::declare(const std::string& key, const std::string& type_name,
                               const std::string& description, const std::string& default_text) {
  OptionSpec spec;
  spec.key_ = key;
  spec.type_name_ = type_name;
  spec.description_ = description;
  spec.default_text_ = default_text;
  specs_.push_back(std::move(spec));
  return specs_.back();
}

OptionSpec& OptionSet::add(const std::string& key, bool& target, const std::string& description,
                           bool default_value) {
  target = default_value;
  auto& spec = declare(key, "bool", description, default_value ? "true" : "false");
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      throw ConfigError("option '" + s.key() + "' expects true or false, got '" + scalar_text(node) + "'");
    }
    target = value;
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, int& target, const std::string& description,
                           int default_value) {
  target = default_value;
  auto& spec = declare(key, "integer", description, std::to_string(default_value));
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    const double value = as_number(scalar_text(node), s);
    if (value != std::floor(value) || std::abs(value) > 2e9) {
      throw ConfigError("option '" + s.key() + "' expects a whole number, got '" + scalar_text(node) + "'");
    }
    target = static_cast<int>(value);
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, double& target, const std::string& description,
                           double default_value) {
  target = default_value;
  auto& spec = declare(key, "number", description,
                       std::isnan(default_value) ? "" : format_number(default_value));
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    target = as_number(scalar_text(node), s);
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, std::string& target,
                           const std::string& description, const std::string& default_value) {
  target = default_value;
  auto& spec = declare(key, "string", description, default_value);
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    if (!node.IsScalar()) throw ConfigError("option '" + s.key() + "' expects a single value, got " + YAML::Dump(node));
    check_choice(node.Scalar(), s);
    target = node.Scalar();
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, StringList& target,
                           const std::string& description, const StringList& default_value) {
  target = default_value;
  auto& spec = declare(key, "list", description, join(default_value, ","));
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    StringList items = as_string_list(node, s);
    for (const auto& item : items) check_choice(item, s);
    target = std::move(items);
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, NumberList& target,
                           const std::string& description, const NumberList& default_value) {
  target = default_value;
  StringList shown;
  for (double v : default_value) shown.push_back(format_number(v));
  auto& spec = declare(key, "number list", description, join(shown, ","));
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    NumberList values;
    for (const auto& item : as_string_list(node, s)) values.push_back(as_number(item, s));
    target = std::move(values);
  };
  return spec;
}

OptionSpec& OptionSet::add(const std::string& key, StringMap& target,
                           const std::string& description, const StringMap& default_value) {
  target = default_value;
  auto& spec = declare(key, "map", description, default_value.empty() ? "{}" : "...");
  spec.assign_ = [&target](const YAML::Node& node, const OptionSpec& s) {
    if (!node.IsMap()) {
      throw ConfigError("option '" + s.key() + "' expects a map of name: value, got " + YAML::Dump(node));
    }
    StringMap values;
    for (const auto& item : node) {
      if (!item.second.IsScalar()) throw ConfigError("option '" + s.key() + "': value of '" + item.first.as<std::string>() + "' must be a string");
      values[item.first.as<std::string>()] = item.second.Scalar();
    }
    target = std::move(values);
  };
  return spec;
}

void OptionSet::set(const std::string& key, const YAML::Node& value) {
  auto it = std::find_if(specs_.begin(), specs_.end(), [&](const auto& s) { return s.key() == key; });
  if (it == specs_.end()) {
    StringList known;
    for (const auto& s : specs_) known.push_back(s.key());
    throw ConfigError("unknown option '" + key + "'; this stage takes [" + join(known) + "]");
  }
  it->assign_(value, *it);
  it->set_ = true;
}

void OptionSet::set_text(const std::string& key, const std::string& text) {
  YAML::Node node;
  try {
    node = YAML::Load(text);
  } catch (const YAML::Exception&) {
    node = YAML::Node(text);
  }
  set(key, node);
}

void OptionSet::check_required() const {
  for (const auto& s : specs_) {
    if (s.is_required() && !s.was_set()) {
      throw ConfigError("option '" + s.key() + "' is required: " + s.description());
    }
  }
}

bool OptionSet::was_set(const std::string& key) const {
  for (const auto& s : specs_) {
    if (s.key() == key) return s.was_set();
  }
  return false;
}

}  // namespace fieldrx
