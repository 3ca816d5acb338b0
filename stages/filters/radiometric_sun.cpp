// SPDX-License-Identifier: Apache-2.0
#include "stages/filters/radiometric_sun.hpp"

#include <cmath>

namespace fieldrx {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kRad = kPi / 180.0;

double wrap360(double deg) {
  deg = std::fmod(deg, 360.0);
  return deg < 0 ? deg + 360.0 : deg;
}

// Fresnel transmittance between media n1 -> n2 for unpolarised light.
double fresnel_transmission(double phi, double n1, double n2) {
  const double f1 = std::cos(phi);
  const double s = n1 / n2 * std::sin(phi);
  const double f2 = std::sqrt(1 - s * s);
  const double rs = std::pow((n1 * f1 - n2 * f2) / (n1 * f1 + n2 * f2), 2);
  const double rp = std::pow((n1 * f2 - n2 * f1) / (n1 * f2 + n2 * f1), 2);
  const double t = 1.0 - 0.5 * rs - 0.5 * rp;
  if (!std::isfinite(t) || t > 1 || t < 0) return 0.0;
  return t;
}

}  // namespace

SolarPosition solar_position(double latitude_deg, double longitude_deg, std::int64_t utc_us) {
  // Julian day (UT) from Unix time; TT = UT + Delta T (about 69 s in 2015-2025; an error of
  // a few seconds moves the sun by less than 0.0003 rad).
  const double jd = 2440587.5 + static_cast<double>(utc_us) / 86400e6;
  const double delta_t = 69.0;
  const double t = (jd + delta_t / 86400.0 - 2451545.0) / 36525.0;

  const double l0 = 280.46646 + 36000.76983 * t + 0.0003032 * t * t;
  const double m = 357.52911 + 35999.05029 * t - 0.0001537 * t * t;
  const double e = 0.016708634 - 0.000042037 * t - 0.0000001267 * t * t;
  const double mr = m * kRad;
  const double c = (1.914602 - 0.004817 * t - 0.000014 * t * t) * std::sin(mr) +
                   (0.019993 - 0.000101 * t) * std::sin(2 * mr) + 0.000289 * std::sin(3 * mr);
  const double true_longitude = l0 + c;
  const double nu = (m + c) * kRad;
  const double distance_au = 1.000001018 * (1 - e * e) / (1 + e * std::cos(nu));

  // Nutation (Meeus ch. 22, 0.5" terms) and obliquity.
  const double omega = (125.04452 - 1934.136261 * t) * kRad;
  const double ls = (280.4665 + 36000.7698 * t) * kRad;
  const double lm = (218.3165 + 481267.8813 * t) * kRad;
  const double dpsi = (-17.20 * std::sin(omega) - 1.32 * std::sin(2 * ls) -
                       0.23 * std::sin(2 * lm) + 0.21 * std::sin(2 * omega)) /
                      3600.0;
  const double deps = (9.20 * std::cos(omega) + 0.57 * std::cos(2 * ls) + 0.10 * std::cos(2 * lm) -
                       0.09 * std::cos(2 * omega)) /
                      3600.0;
  const double eps0 = 23.0 + 26.0 / 60 + 21.448 / 3600 -
                      (46.8150 * t + 0.00059 * t * t - 0.001813 * t * t * t) / 3600;
  const double eps = (eps0 + deps) * kRad;
  const double lambda = (true_longitude + dpsi - 20.4898 / 3600.0 / distance_au) * kRad;

  const double ra = std::atan2(std::cos(eps) * std::sin(lambda), std::cos(lambda));
  const double dec = std::asin(std::sin(eps) * std::sin(lambda));

  // Apparent sidereal time at Greenwich (Meeus 12.4 + equation of the equinoxes).
  const double tu = (jd - 2451545.0) / 36525.0;
  const double gmst = 280.46061837 + 360.98564736629 * (jd - 2451545.0) + 0.000387933 * tu * tu -
                      tu * tu * tu / 38710000.0;
  const double gast = gmst + dpsi * std::cos(eps);
  const double h = wrap360(gast + longitude_deg - ra / kRad) * kRad;

  // Topocentric parallax (sea level).
  const double lat = latitude_deg * kRad;
  const double xi = (8.794 / 3600.0 / distance_au) * kRad;
  const double u = std::atan(0.99664719 * std::tan(lat));
  const double rho_cos = std::cos(u), rho_sin = 0.99664719 * std::sin(u);
  const double dra = std::atan2(-rho_cos * std::sin(xi) * std::sin(h),
                                std::cos(dec) - rho_cos * std::sin(xi) * std::cos(h));
  const double dec_t = std::atan2((std::sin(dec) - rho_sin * std::sin(xi)) * std::cos(dra),
                                  std::cos(dec) - rho_cos * std::sin(xi) * std::cos(h));
  const double h_t = h - dra;

  const double elevation =
      std::asin(std::sin(lat) * std::sin(dec_t) + std::cos(lat) * std::cos(dec_t) * std::cos(h_t));
  const double el_deg = elevation / kRad;
  // SPA refraction (P = 1013.25 hPa, T = 15 degC), for a sun above the horizon.
  const double refraction = el_deg > -0.83
                                ? (1013.25 / 1010.0) * (283.0 / (273.0 + 15.0)) * 1.02 /
                                      (60.0 * std::tan((el_deg + 10.3 / (el_deg + 5.11)) * kRad))
                                : 0.0;
  const double azimuth = wrap360(
      std::atan2(std::sin(h_t), std::cos(h_t) * std::sin(lat) - std::tan(dec_t) * std::cos(lat)) /
          kRad +
      180.0);
  return {(el_deg + refraction) * kRad, azimuth * kRad};
}

std::array<double, 3> ned_from_sun(double azimuth_rad, double elevation_rad) {
  return {std::cos(azimuth_rad) * std::cos(elevation_rad),
          std::sin(azimuth_rad) * std::cos(elevation_rad), -std::sin(elevation_rad)};
}

std::array<double, 3> body_to_ned(double yaw, double pitch, double roll,
                                  const std::array<double, 3>& v) {
  const double c1 = std::cos(-yaw), s1 = std::sin(-yaw);
  const double c2 = std::cos(-pitch), s2 = std::sin(-pitch);
  const double c3 = std::cos(-roll), s3 = std::sin(-roll);
  // R = Ryaw * Rpitch * Rroll with MicaSense's sign conventions (dls.get_orientation).
  const double ry[3][3] = {{c1, s1, 0}, {-s1, c1, 0}, {0, 0, 1}};
  const double rp[3][3] = {{c2, 0, -s2}, {0, 1, 0}, {s2, 0, c2}};
  const double rr[3][3] = {{1, 0, 0}, {0, c3, s3}, {0, -s3, c3}};
  double a[3][3] = {}, r[3][3] = {};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) a[i][j] += rp[i][k] * rr[k][j];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) r[i][j] += ry[i][k] * a[k][j];
  return {r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
          r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
          r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2]};
}

double dls_fresnel(double phi) {
  const double n[3] = {1.000277, 1.6, 1.38};
  double t = 1.0, phi_eff = phi;
  for (int i = 0; i < 2; ++i) {
    phi_eff = std::asin(std::sin(phi_eff) / n[i]);
    t *= fresnel_transmission(phi_eff, n[i], n[i + 1]);
  }
  return t;
}

DlsIrradiance dls1_horizontal_irradiance(double spectral_irradiance, double yaw, double pitch,
                                         double roll, double latitude_deg, double longitude_deg,
                                         std::int64_t utc_us) {
  DlsIrradiance out;
  const SolarPosition sun = solar_position(latitude_deg, longitude_deg, utc_us);
  out.solar_elevation_rad = sun.elevation_rad;
  out.solar_azimuth_rad = sun.azimuth_rad;
  const auto n_sun = ned_from_sun(sun.azimuth_rad, sun.elevation_rad);
  const auto n_sensor = body_to_ned(yaw, pitch, roll, {0, 0, -1});
  const double dot = n_sun[0] * n_sensor[0] + n_sun[1] * n_sensor[1] + n_sun[2] * n_sensor[2];
  out.sun_sensor_angle_rad = std::acos(std::max(-1.0, std::min(1.0, dot)));
  const double percent_diffuse = 1.0 / 6.0;  // clear-sky direct/diffuse ratio of 6
  const double sensor = spectral_irradiance / dls_fresnel(out.sun_sensor_angle_rad);
  out.direct = sensor / (percent_diffuse + std::cos(out.sun_sensor_angle_rad));
  out.scattered = out.direct * percent_diffuse;
  out.horizontal = out.direct * std::sin(sun.elevation_rad) + out.scattered;
  return out;
}

}  // namespace fieldrx
