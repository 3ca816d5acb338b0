// SPDX-License-Identifier: Apache-2.0
#pragma once
// readers (captures): the pixels of raw band files, through GDAL (one dataset per call, so
// concurrent calls from different threads are safe).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "stages/readers/capture_metadata.hpp"

namespace fieldrx {

// The first band of a raw camera file as CV_16U (8-bit files are widened). Throws IoError.
cv::Mat read_raw_band(const std::string& path);
// Every band of a capture, in band order.
std::vector<cv::Mat> read_capture_pixels(const Capture& capture);

}  // namespace fieldrx
