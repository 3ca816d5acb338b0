// SPDX-License-Identifier: Apache-2.0
#pragma once
// Writers of the prescription workflow: each takes one field's finished prescription and
// writes its files into the field's folder (atomically: temp names renamed when complete).
#include <string>
#include <vector>

#include "pipeline/field_prescription.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class FieldWriter : public Stage {
 public:
  // Returns the paths written.
  std::vector<std::string> write_field(const FieldPrescription& rx, const std::string& field_dir) const {
    return in_context([&] { return do_write_field(rx, field_dir); });
  }
  // The export name a machine profile lists to ask for this writer ("isoxml", "shapefile"...);
  // empty: always written.
  virtual std::vector<std::string> export_names() const { return {}; }

 protected:
  using Stage::Stage;

 private:
  virtual std::vector<std::string> do_write_field(const FieldPrescription& rx, const std::string& field_dir) const = 0;
};

}  // namespace fieldrx
