// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <cmath>

#include "stages/writers/capture_mosaic.hpp"

using namespace fieldrx;

namespace {

MosaicFrame frame(double yaw, double tilt, double roll) {
  MosaicFrame f;
  f.capture_id = "synthetic";
  f.camera = cv::Matx33d(1000, 0, 500, 0, 1000, 400, 0, 0, 1);
  f.size = cv::Size(1000, 800);
  f.yaw_deg = yaw;
  f.tilt_deg = tilt;
  f.roll_deg = roll;
  return f;
}

}  // namespace

TEST_CASE("direct georeferencing puts a nadir frame's footprint where the pinhole model says",
          "[kernel][captures]") {
  // Guards the camera->ENU rotation: image top towards the heading, tilt forward, roll right, 100 m
  // AGL. North-up nadir: 1000 x 800 px at f = 1000 px and 100 m -> 100 m x 80 m centred on the
  // camera.
  auto c = frame_ground_corners(frame(0, 0, 0), 500000, 4000000, 100);
  CHECK(c[0].x == Approx(500000 - 50));   // top-left pixel: west
  CHECK(c[0].y == Approx(4000000 + 40));  // and north (image top = heading = north)
  CHECK(c[2].x == Approx(500000 + 50));
  CHECK(c[2].y == Approx(4000000 - 40));
  // Heading east: the image top points east.
  c = frame_ground_corners(frame(90, 0, 0), 0, 0, 100);
  CHECK(c[0].x == Approx(40));
  CHECK(c[0].y == Approx(50));
  // A 2 x 2 px frame about the principal point follows the optical axis: tilted 10 deg forward
  // (north) it lands 100 tan(10 deg) m north; rolled 5 deg right, 100 tan(5 deg) m east.
  const double deg = 3.14159265358979323846 / 180;
  MosaicFrame axis = frame(0, 10, 0);
  axis.size = cv::Size(2, 2);
  axis.camera = cv::Matx33d(1000, 0, 1, 0, 1000, 1, 0, 0, 1);
  c = frame_ground_corners(axis, 0, 0, 100);
  CHECK((c[0].y + c[1].y + c[2].y + c[3].y) / 4 == Approx(100 * std::tan(10 * deg)).epsilon(1e-3));
  CHECK((c[0].x + c[1].x + c[2].x + c[3].x) / 4 == Approx(0).margin(1e-3));
  axis.tilt_deg = 0;
  axis.roll_deg = 5;
  c = frame_ground_corners(axis, 0, 0, 100);
  CHECK((c[0].x + c[1].x + c[2].x + c[3].x) / 4 == Approx(100 * std::tan(5 * deg)).epsilon(1e-3));
  CHECK((c[0].y + c[1].y + c[2].y + c[3].y) / 4 == Approx(0).margin(1e-3));
  CHECK_THROWS(frame_ground_corners(frame(0, 95, 0), 0, 0, 100));  // looking above the horizon
}
