// SPDX-License-Identifier: Apache-2.0
#pragma once
// readers.fields — field boundaries for the prescription workflow.
//   Input: GeoJSON, Shapefile, KML/KMZ or GeoPackage in any CRS (pipeline/io/fields.hpp).
//   Output: the fields with their geometry in the image CRS, WGS84 and their UTM zone, exact
//   areas, and per-field repair warnings or errors (a bad field does not stop the others).
//   Options: file, field_id, layer, ids, crop_attribute, ab_line_attribute (each field's A-B
//   line, as aggregators.zones' ab_line), buffer_m (inner edge buffer), exclusions (file),
//   exclusion_buffer_m.
#include "pipeline/io/fields.hpp"
#include "pipeline/stage.hpp"

namespace fieldrx {

class FieldsReader : public Stage {
 public:
  FieldsReader();
  FieldSet read(const std::string& raster_crs_wkt) const;
  // The crop of each field from `crop_attribute`, by field id (empty when not set).
  std::map<std::string, std::string> crops() const;
  // Each field's A-B line text from `ab_line_attribute`, by field id (empty when not set; a
  // field with an empty value uses aggregators.zones' ab_line).
  std::map<std::string, std::string> ab_lines() const;

 private:
  void declare_options(OptionSet& options) override;
  std::map<std::string, std::string> attribute_by_field(const std::string& attribute) const;
  std::string file_, field_id_, layer_, crop_attribute_, ab_line_attribute_, exclusions_;
  StringList ids_;
  double buffer_m_ = 0, exclusion_buffer_m_ = 0;
};

}  // namespace fieldrx
