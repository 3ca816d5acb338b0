// SPDX-License-Identifier: Apache-2.0
#pragma once
// Sun position and sun-sensor (MicaSense DLS 1) irradiance kernels. Pure functions.
//   Solar position: J. Meeus, "Astronomical Algorithms", 2nd ed., ch. 25 (low-accuracy solar
//   coordinates, with nutation and aberration, ch. 22) and ch. 13 (horizontal coordinates),
//   topocentric parallax (ch. 40) and the refraction term NREL SPA uses (Reda & Andreas 2004,
//   eq. 42, at 1013.25 hPa and 15 degC). Within 0.001 rad of the pysolar values MicaSense
//   uses, which is all a DLS angle correction needs.
//   DLS 1 (MicaSense imageprocessing dls.py / image.py compute_horizontal_irradiance_dls1):
//     E_sensor = E_measured / T(theta) (Fresnel transmission of the diffuser, n = 1.000277,
//     1.6, 1.38), E_direct = E_sensor / (1/6 + cos theta) (clear sky: diffuse = direct / 6),
//     E_horizontal = E_direct * sin(elevation) + E_direct / 6.
#include <array>
#include <cstdint>

namespace fieldrx {

struct SolarPosition {
  double elevation_rad = 0;  // above the horizon, refraction included
  double azimuth_rad = 0;    // clockwise from north, [0, 2 pi)
};
SolarPosition solar_position(double latitude_deg, double longitude_deg, std::int64_t utc_us);

// Unit vector towards the sun in North-East-Down.
std::array<double, 3> ned_from_sun(double azimuth_rad, double elevation_rad);
// A body-frame direction (default: the DLS normal, up = [0,0,-1]) rotated by yaw, pitch, roll
// (radians, NED, as MicaSense dls.get_orientation).
std::array<double, 3> body_to_ned(double yaw, double pitch, double roll,
                                  const std::array<double, 3>& body);
// Fresnel transmission of the DLS diffuser stack at incidence angle phi (rad).
double dls_fresnel(double phi);

struct DlsIrradiance {
  double sun_sensor_angle_rad = 0;
  double solar_elevation_rad = 0, solar_azimuth_rad = 0;
  double direct = 0, scattered = 0, horizontal = 0;  // W/m^2/nm
};
// Horizontal irradiance from a DLS 1 spectral irradiance reading, its pose and the sun.
DlsIrradiance dls1_horizontal_irradiance(double spectral_irradiance, double yaw, double pitch,
                                         double roll, double latitude_deg, double longitude_deg,
                                         std::int64_t utc_us);

}  // namespace fieldrx
