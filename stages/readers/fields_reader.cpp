// SPDX-License-Identifier: Apache-2.0
#include "stages/readers/fields_reader.hpp"

#include "pipeline/errors.hpp"
#include "pipeline/io/gdal_io.hpp"

namespace fieldrx {

FieldsReader::FieldsReader()
    : Stage({"readers.fields", "field boundaries (GeoJSON, Shapefile, KML/KMZ, GeoPackage; any CRS) with exact UTM areas",
             "https://gdal.org/drivers/vector/index.html"}) {}

void FieldsReader::declare_options(OptionSet& options) {
  options.add("file", file_, "boundary file", "").required();
  options.add("field_id", field_id_, "attribute holding the field id ('FID' for the feature id)", "").required();
  options.add("layer", layer_, "layer to read (default: every layer)", "");
  options.add("ids", ids_, "only these field ids (default: every field)", StringList{});
  options.add("crop_attribute", crop_attribute_, "attribute holding the crop, shown in reports (optional)", "");
  options.add("ab_line_attribute", ab_line_attribute_,
              "attribute holding each field's A-B line: a bearing in degrees, lonA,latA,lonB,latB, 'auto' or 'north' "
              "(optional; empty values use aggregators.zones' ab_line)",
              "");
  options.add("buffer_m", buffer_m_, "inner edge buffer: no-spray strip along the boundary", 0.0).unit("m").range(0, 1000);
  options.add("exclusions", exclusions_, "file of areas to leave out (water, buildings, poles)", "");
  options.add("exclusion_buffer_m", exclusion_buffer_m_, "buffer around each exclusion", 0.0).unit("m").range(0, 1000);
}

FieldSet FieldsReader::read(const std::string& raster_crs_wkt) const {
  return in_context([&] {
    options().check_required();
    FieldReadOptions options;
    options.id_attribute = field_id_;
    options.layer = layer_;
    options.ids = ids_;
    options.raster_crs_wkt = raster_crs_wkt;
    options.inner_buffer_m = buffer_m_;
    options.exclusions_path = exclusions_;
    options.exclusion_buffer_m = exclusion_buffer_m_;
    return read_fields(file_, options);
  });
}

std::map<std::string, std::string> FieldsReader::crops() const { return attribute_by_field(crop_attribute_); }

std::map<std::string, std::string> FieldsReader::ab_lines() const {
  std::map<std::string, std::string> lines = attribute_by_field(ab_line_attribute_);
  if (!ab_line_attribute_.empty() && lines.empty()) {
    throw ConfigError("stage 'readers.fields': option 'ab_line_attribute' names '" + ab_line_attribute_ + "', which no layer of " +
                      file_ + " has; check the attribute's spelling (ogrinfo -so " + file_ + ")");
  }
  return lines;
}

std::map<std::string, std::string> FieldsReader::attribute_by_field(const std::string& attribute) const {
  std::map<std::string, std::string> values;
  if (attribute.empty()) return values;
  return in_context([&] {
    DatasetPtr ds = open_vector(file_);
    for (OGRLayer* layer : ds->GetLayers()) {
      if (!layer_.empty() && layer->GetName() != layer_) continue;
      const int value_index = layer->GetLayerDefn()->GetFieldIndex(attribute.c_str());
      const int id_index = field_id_ == "FID" ? -1 : layer->GetLayerDefn()->GetFieldIndex(field_id_.c_str());
      if (value_index < 0) continue;
      for (auto& feature : *layer) {
        const std::string id = id_index < 0 ? std::to_string(feature->GetFID()) : feature->GetFieldAsString(id_index);
        values[id] = feature->IsFieldSetAndNotNull(value_index) ? feature->GetFieldAsString(value_index) : "";
      }
    }
    return values;
  });
}

}  // namespace fieldrx
