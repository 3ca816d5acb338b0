// SPDX-License-Identifier: Apache-2.0
#pragma once
// Radiometric calibration kernels for raw multispectral band images: pure functions on
// cv::Mat (no GDAL, TBB, logging or metadata parsing). Inputs are the raw CV_16U frame and the
// numbers the camera wrote; outputs are CV_32F images. Negative signal after dark subtraction
// is clipped to 0 (as MicaSense does); nothing here turns 0/0 into a value.
//
// MicaSense (RedEdge, Altum; imageprocessing image.py, MicaSense "Radiometric Calibration Model"):
//   L = V(x,y) * R(y) * (DN - BL) / (g * t) * a1 / 2^bits,  R(y) = 1 / (1 + a2*y/t - a3*y),
//   V = 1 / (1 + sum_i k_i r^i), r = distance (px) from VignettingCenter.   [W/m^2/sr/nm]
// DJI P4M / M3M (DJI multispectral image processing guides):
//   X = (I - BL) * (1 + k0 r + k1 r^2 + ... + k5 r^6) / (SensorGain * t) / 2^bits,
//   r from CalibratedOpticalCenterX/Y. Relative units; reflectance via a panel, or
//   proportional to X * SensorGainAdjustment / Irradiance.
// Parrot Sequoia (Parrot "Application note: pixel value to irradiance"):
//   I = f^2 * (p / V - B) / (A * t * ISO + C), V = sum_i c_i (x/W)^n_i (y/H)^m_i.
// Altum LWIR: DN are centi-kelvin: T[degC] = DN / 100 - 273.15.
#include <array>
#include <opencv2/core.hpp>
#include <vector>

namespace fieldrx {

struct MicaSenseRadiometry {
  double black_level = 0;
  double exposure_s = 0;
  double gain = 1;
  std::array<double, 3> cal{0, 0, 0};  // a1, a2, a3
  int bits = 16;
  double vignette_cx = 0, vignette_cy = 0;
  std::vector<double> vignette_poly;  // k1..k6
};

// Vignetting correction factor 1/(1 + sum k_i r^i) (>1 towards the corners), CV_64F.
cv::Mat micasense_vignette(cv::Size size, double cx, double cy, const std::vector<double>& poly);
// Row-gradient (rolling shutter read-out) factor per row, CV_64F height x 1.
cv::Mat micasense_row_gradient(int height, double a2, double a3, double exposure_s);
// Radiance W/m^2/sr/nm (CV_32F) from a raw CV_16U frame.
cv::Mat micasense_radiance(const cv::Mat& raw, const MicaSenseRadiometry& r);
// The same without a1: "intensity", DN*s/2^bits units (panel statistics, upstream intensity()).
cv::Mat micasense_intensity(const cv::Mat& raw, const MicaSenseRadiometry& r);

struct DjiRadiometry {
  double black_level = 0;
  double sensor_gain = 1;
  double exposure_s = 0;
  int bits = 16;
  std::vector<double> vignetting;  // k0..k5
  double center_x = 0, center_y = 0;
};
// Vignetting factor 1 + k0 r + ... + k5 r^6 (multiplies), CV_64F.
cv::Mat dji_vignette(cv::Size size, double cx, double cy, const std::vector<double>& k);
cv::Mat dji_signal(const cv::Mat& raw, const DjiRadiometry& r);

struct SequoiaRadiometry {
  double a = 0, b = 0, c = 0;  // SensorModel
  double f_number = 0, exposure_s = 0, iso = 0;
  std::vector<int> exponents;  // n0, m0, n1, m1, ...
  std::vector<double> coefficients;
};
cv::Mat sequoia_vignette(cv::Size size, const std::vector<int>& exponents,
                         const std::vector<double>& coefficients);
cv::Mat sequoia_irradiance(const cv::Mat& raw, const SequoiaRadiometry& r);

// Altum LWIR centi-kelvin -> degrees Celsius.
cv::Mat thermal_celsius(const cv::Mat& raw);

// Reflectance = pi * radiance / irradiance (irradiance > 0 and finite, else a StageError is
// the caller's business: this returns NaN everywhere so nothing wrong is sprayed).
cv::Mat reflectance_from_radiance(const cv::Mat& radiance, double irradiance);

// Lens model (OpenCV pinhole + Brown-Conrady, distortion k1,k2,p1,p2,k3).
cv::Matx33d camera_matrix(double fx, double fy, double cx, double cy);
// MicaSense undistorts onto getOptimalNewCameraMatrix(alpha = 1): every source pixel stays in
// the frame (black corners), the focal length shrinks a little.
cv::Matx33d undistorted_camera_matrix(const cv::Matx33d& k, const std::array<double, 5>& dist,
                                      cv::Size size);

struct UndistortMaps {
  cv::Mat map_x, map_y;  // CV_32F, for cv::remap
  cv::Matx33d new_k;
};
UndistortMaps undistort_maps(const cv::Matx33d& k, const std::array<double, 5>& dist,
                             cv::Size size);
// Bilinear remap; pixels that come from outside the frame become `border` (MicaSense: 0).
cv::Mat undistort(const cv::Mat& image, const UndistortMaps& maps, double border = 0.0);

// Fisheye lens (Parrot Sequoia), the Pix4D fisheye model ("How are the internal and external
// camera parameters defined?", support.pix4d.com 202559089, section 2.2, and Pix4D's note
// "Camera internals for fisheye lens"): a ray (X, Y, Z) in camera coordinates maps to
//   r = sqrt(X^2 + Y^2) / Z,  theta = (2/pi) atan(r),  rho = p0 + p1 theta + ... + p4 theta^4,
//   (xh, yh) = rho (X, Y) / sqrt(X^2 + Y^2),
//   x_d = C xh + D yh + cx,  y_d = E xh + F yh + cy        (pixels)
// with XMP FisheyePolynomial = p0..p3 (Parrot: "for i > 3, pi = 0"; a fifth value is p4) and
// FisheyeAffineMatrix = C, D, E, F (row-major, as
// exiv2's tag reference and Pix4D give it; Yu-Hsuan Tu's Parrot_Sequoia_Image_Handler reads it
// so; R. Fenger-Nielsen's port of muzammil360's SeqUDR swaps D and E, which are 0 on Sequoia
// files). The undistorted image is a pinhole camera `k`: each of its pixels is cast as the ray
// K^-1 (u, v, 1) and looked up at its distorted position (SeqUDR; Parrot forum thread "Fish eye
// correction": start from undistorted points, add the distortion, interpolate). SeqUDR and ODM
// take k from the EXIF FocalLength and the XMP PrincipalPoint (both mm) times
// FocalPlaneX/YResolution (px/mm); the lens's own scale at the centre is 2C/pi (Pix4D), a few
// per cent less on Sequoia (forum: 2C/pi = 992 px, FocalLength * resolution = 1067 px).
struct FisheyeLens {
  std::array<double, 5> p{0, 1, 0, 0, 0};   // p0..p4
  cv::Matx22d affine = cv::Matx22d::eye();  // [C D; E F], px
  cv::Point2d center{0, 0};                 // principal point, px
};
// Distorted pixel of the undistorted pixel `u` of the pinhole camera `k`.
cv::Point2d fisheye_distort_point(const FisheyeLens& lens, const cv::Matx33d& k, cv::Point2d u);
// The inverse (Newton on rho(theta), which must be increasing up to the point); NaN when the
// distorted point lies outside the lens's monotonic range (theta >= 1 is behind the camera).
cv::Point2d fisheye_undistort_point(const FisheyeLens& lens, const cv::Matx33d& k, cv::Point2d d);
// Remap tables for cv::remap onto the pinhole camera `k` of the given size (new_k = k).
UndistortMaps fisheye_undistort_maps(const FisheyeLens& lens, const cv::Matx33d& k, cv::Size size);
// Maps and camera of a frame turned by 180 degrees (EXIF Orientation 3): the same lookups with
// both the output and the source pixel turned, and the principal point mirrored.
UndistortMaps rotate_maps_180(const UndistortMaps& maps, cv::Size source_size);

}  // namespace fieldrx
