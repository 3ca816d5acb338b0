// SPDX-License-Identifier: Apache-2.0
#include "stages/aggregators/field_statistics.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>

namespace fieldrx {
namespace {

__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A finite float as ±mantissa * 2^(bucket - 150), bucket in [1, 254]: normal numbers carry the
// implicit leading 1, subnormals share bucket 1 with the smallest normals.
struct Decomposed {
  int bucket;
  std::uint32_t mantissa;
  bool negative;
};
inline Decomposed decompose(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t exponent = (bits >> 23) & 0xFFu;
  const std::uint32_t fraction = bits & 0x7FFFFFu;
  if (exponent == 0) return {1, fraction, (bits >> 31) != 0};
  return {static_cast<int>(exponent), fraction | 0x800000u, (bits >> 31) != 0};
}

// Just enough of an unsigned big integer for exact moments: sums are < 2^350, squares of sums
// and count * sum of squares < 2^700, so 1024 bits never overflow.
class BigUnsigned {
 public:
  static constexpr int kLimbs = 16;

  void add_shifted(UInt128 value, int shift) {
    int limb = shift / 64;
    const int bit = shift % 64;
    // value << bit spans up to three limbs.
    std::uint64_t parts[3] = {static_cast<std::uint64_t>(value),
                              static_cast<std::uint64_t>(value >> 64), 0};
    if (bit != 0) {
      parts[0] = static_cast<std::uint64_t>(value << bit);
      parts[1] = static_cast<std::uint64_t>(value >> (64 - bit));
      parts[2] = static_cast<std::uint64_t>(value >> (128 - bit));
    }
    UInt128 carry = 0;
    for (int i = 0; limb < kLimbs && (i < 3 || carry != 0); ++i, ++limb) {
      const UInt128 sum = static_cast<UInt128>(limbs_[limb]) + (i < 3 ? parts[i] : 0) + carry;
      limbs_[limb] = static_cast<std::uint64_t>(sum);
      carry = sum >> 64;
    }
  }

  int compare(const BigUnsigned& other) const {
    for (int i = kLimbs - 1; i >= 0; --i) {
      if (limbs_[i] != other.limbs_[i]) return limbs_[i] < other.limbs_[i] ? -1 : 1;
    }
    return 0;
  }

  // *this -= other; requires *this >= other.
  void subtract(const BigUnsigned& other) {
    std::uint64_t borrow = 0;
    for (int i = 0; i < kLimbs; ++i) {
      const UInt128 a = limbs_[i];
      const UInt128 b = static_cast<UInt128>(other.limbs_[i]) + borrow;
      limbs_[i] = static_cast<std::uint64_t>(a - b);
      borrow = a < b ? 1 : 0;
    }
  }

  BigUnsigned times(std::uint64_t factor) const {
    BigUnsigned out;
    UInt128 carry = 0;
    for (int i = 0; i < kLimbs; ++i) {
      const UInt128 product = static_cast<UInt128>(limbs_[i]) * factor + carry;
      out.limbs_[i] = static_cast<std::uint64_t>(product);
      carry = product >> 64;
    }
    return out;
  }

  BigUnsigned squared() const {
    BigUnsigned out;
    const int used = used_limbs();
    for (int i = 0; i < used; ++i) {
      UInt128 carry = 0;
      for (int j = 0; j < used; ++j) {
        const UInt128 cell =
            static_cast<UInt128>(limbs_[i]) * limbs_[j] + out.limbs_[i + j] + carry;
        out.limbs_[i + j] = static_cast<std::uint64_t>(cell);
        carry = cell >> 64;
      }
      for (int k = i + used; carry != 0 && k < kLimbs; ++k) {
        const UInt128 cell = static_cast<UInt128>(out.limbs_[k]) + carry;
        out.limbs_[k] = static_cast<std::uint64_t>(cell);
        carry = cell >> 64;
      }
    }
    return out;
  }

  // value * 2^scale, rounded once to the nearest double (ties to even).
  double to_double(int scale) const {
    const int used = used_limbs();
    if (used == 0) return 0.0;
    const int top = 64 * (used - 1) + 63 - std::countl_zero(limbs_[used - 1]);
    if (top < 64) return std::ldexp(static_cast<double>(limbs_[0]), scale);
    // The 64 bits below and including the top bit, plus a sticky bit for everything lower,
    // so that the single uint64 -> double conversion rounds correctly.
    const int low = top - 63;
    std::uint64_t head = bits_at(low);
    bool sticky = false;
    for (int i = 0; i < low / 64 && !sticky; ++i) sticky = limbs_[i] != 0;
    if (!sticky && low % 64 != 0) sticky = (limbs_[low / 64] & ((1ULL << (low % 64)) - 1)) != 0;
    if (sticky) head |= 1;
    return std::ldexp(static_cast<double>(head), low + scale);
  }

 private:
  int used_limbs() const {
    int used = kLimbs;
    while (used > 0 && limbs_[used - 1] == 0) --used;
    return used;
  }
  std::uint64_t bits_at(int low) const {  // 64 bits starting at bit `low`
    const int limb = low / 64, bit = low % 64;
    std::uint64_t out = limbs_[limb] >> bit;
    if (bit != 0 && limb + 1 < kLimbs) out |= limbs_[limb + 1] << (64 - bit);
    return out;
  }
  std::array<std::uint64_t, kLimbs> limbs_{};
};

// numpy's linear interpolation between neighbouring order statistics (its _lerp: from the
// nearer end, so the result stays monotonic in t).
inline double lerp(double a, double b, double t) {
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

// Equal bins over [lower, upper] binned as numpy.histogram does: an estimate from the scaled
// offset, then corrected against the bin edges themselves (so a value on an edge always goes to
// the bin that starts there), and the upper edge counted in the last bin.
class BinEdges {
 public:
  BinEdges(double lower, double upper, int bins)
      : lower_(lower), upper_(upper), scale_(bins / (upper - lower)), bins_(bins) {
    edges_.resize(static_cast<std::size_t>(bins) + 1);
    for (int i = 0; i < bins; ++i) edges_[i] = lower + (upper - lower) * i / bins;
    edges_[bins] = upper;
  }
  // -1 below the range, bins above it.
  long bin(double x) const {
    if (x < lower_) return -1;
    if (x > upper_) return bins_;
    long index = std::clamp(static_cast<long>((x - lower_) * scale_), 0L, bins_ - 1L);
    if (x < edges_[index] && index > 0) --index;
    if (index + 1 < bins_ && x >= edges_[index + 1]) ++index;
    return index;
  }

 private:
  double lower_, upper_, scale_;
  long bins_;
  std::vector<double> edges_;
};

}  // namespace

// Kept out of the header: the binning of a fixed-range histogram.
struct FieldStatistics::FixedBins : BinEdges {
  using BinEdges::BinEdges;
};

namespace {}  // namespace

// ---------------------------------------------------------------------------------------------
// Options and results

StatisticsOptions StatisticsOptions::normalized_index(int bins) {
  StatisticsOptions options;
  options.histogram_bins = bins;
  options.histogram_fixed_range = true;
  options.histogram_min = -1.0;
  options.histogram_max = 1.0;
  return options;
}

StatisticsOptions StatisticsOptions::observed_range(int bins) {
  StatisticsOptions options;
  options.histogram_bins = bins;
  options.histogram_fixed_range = false;
  return options;
}

void StatisticsOptions::validate() const {
  for (double p : percentiles) {
    if (!(p >= 0.0 && p <= 100.0)) {
      throw std::invalid_argument("statistics: percentile " + std::to_string(p) +
                                  " is outside [0, 100]");
    }
  }
  if (histogram_bins < 1 || histogram_bins > 100000) {
    throw std::invalid_argument("statistics: histogram_bins " + std::to_string(histogram_bins) +
                                " is outside [1, 100000]");
  }
  if (histogram_fixed_range && !(std::isfinite(histogram_min) && std::isfinite(histogram_max) &&
                                 histogram_min < histogram_max)) {
    throw std::invalid_argument("statistics: the histogram range [" +
                                std::to_string(histogram_min) + ", " +
                                std::to_string(histogram_max) + "] must be finite with min < max");
  }
}

double Histogram::edge(std::size_t i) const {
  // As BinEdges: the upper edge exactly, not lower + width * n / n.
  if (i == counts.size()) return upper;
  return lower + (upper - lower) * static_cast<double>(i) / static_cast<double>(counts.size());
}

double StatisticsSummary::percentile(double rank_percent) const {
  for (std::size_t i = 0; i < percentile_ranks.size(); ++i) {
    if (percentile_ranks[i] == rank_percent) return percentiles[i];
  }
  throw std::out_of_range("statistics: percentile " + std::to_string(rank_percent) +
                          " was not computed (add it to StatisticsOptions::percentiles)");
}

// ---------------------------------------------------------------------------------------------
// ExactMoments

void ExactMoments::add(float value) {
  const Decomposed d = decompose(value);
  sum_[d.bucket] += d.negative ? -static_cast<Int128>(d.mantissa) : static_cast<Int128>(d.mantissa);
  sum_sq_[d.bucket] += static_cast<UInt128>(static_cast<std::uint64_t>(d.mantissa) * d.mantissa);
  ++count_;
  lowest_ = std::min(lowest_, d.bucket);
  highest_ = std::max(highest_, d.bucket);
}

void ExactMoments::merge(const ExactMoments& other) {
  for (int b = other.lowest_; b <= other.highest_; ++b) {
    sum_[b] += other.sum_[b];
    sum_sq_[b] += other.sum_sq_[b];
  }
  count_ += other.count_;
  lowest_ = std::min(lowest_, other.lowest_);
  highest_ = std::max(highest_, other.highest_);
}

bool ExactMoments::operator==(const ExactMoments& other) const {
  return count_ == other.count_ && sum_ == other.sum_ && sum_sq_ == other.sum_sq_;
}

namespace {
// Σx in units of 2^-149 as sign and magnitude.
struct ExactSum {
  BigUnsigned magnitude;
  bool negative = false;
};
template <typename Sums>
ExactSum exact_sum(const Sums& sums, int lowest, int highest) {
  BigUnsigned positive, negative;
  for (int b = lowest; b <= highest; ++b) {
    const Int128 s = sums[b];
    if (s > 0) positive.add_shifted(static_cast<UInt128>(s), b - 1);
    if (s < 0) negative.add_shifted(static_cast<UInt128>(-s), b - 1);
  }
  ExactSum out;
  if (positive.compare(negative) >= 0) {
    positive.subtract(negative);
    out.magnitude = positive;
  } else {
    negative.subtract(positive);
    out.magnitude = negative;
    out.negative = true;
  }
  return out;
}
}  // namespace

double ExactMoments::mean() const {
  if (count_ == 0) return kNaN;
  const ExactSum sum = exact_sum(sum_, lowest_, highest_);
  const double magnitude = sum.magnitude.to_double(-149) / static_cast<double>(count_);
  return sum.negative ? -magnitude : magnitude;
}

double ExactMoments::variance() const {
  if (count_ == 0) return kNaN;
  // n^2 var = n Σx² - (Σx)², exact in units of 2^-298 (x = m 2^(b-150), x² = m² 2^(2b-300)).
  const ExactSum sum = exact_sum(sum_, lowest_, highest_);
  BigUnsigned sum_sq;
  for (int b = lowest_; b <= highest_; ++b) sum_sq.add_shifted(sum_sq_[b], 2 * (b - 1));
  BigUnsigned scaled = sum_sq.times(count_);
  const BigUnsigned square = sum.magnitude.squared();
  if (scaled.compare(square) <= 0) return 0.0;  // all values equal (Cauchy–Schwarz: never <)
  scaled.subtract(square);
  const double n = static_cast<double>(count_);
  return scaled.to_double(-298) / n / n;
}

// ---------------------------------------------------------------------------------------------
// The fine histogram over float bits

class FieldStatistics::FineHistogram {
 public:
  // key = the float's top 24 bits (sign, exponent, 15 mantissa bits); a coarse slot per top
  // 12 bits (1/8 octave), each holding a lazily allocated block of 4096 fine bins.
  static constexpr int kKeyShift = 8;
  static constexpr int kFineBits = 12;
  static constexpr std::size_t kSlots = 4096, kFine = 4096;
  using Block = std::array<std::uint64_t, kFine>;

  FineHistogram() = default;
  FineHistogram(const FineHistogram& other) {
    for (std::size_t s = 0; s < kSlots; ++s) {
      if (other.blocks_[s]) blocks_[s] = std::make_unique<Block>(*other.blocks_[s]);
    }
  }

  void add(float value) {
    const std::uint32_t key = std::bit_cast<std::uint32_t>(value) >> kKeyShift;
    std::unique_ptr<Block>& block = blocks_[key >> kFineBits];
    if (!block) block = std::make_unique<Block>();
    ++(*block)[key & (kFine - 1)];
  }

  void merge(const FineHistogram& other) {
    for (std::size_t s = 0; s < kSlots; ++s) {
      if (!other.blocks_[s]) continue;
      if (!blocks_[s]) blocks_[s] = std::make_unique<Block>();
      for (std::size_t f = 0; f < kFine; ++f) (*blocks_[s])[f] += (*other.blocks_[s])[f];
    }
  }

  // A bin in ascending value order: values in [low, high) (negatives: (low, high]).
  struct Bin {
    double low, high;
    std::uint64_t count;
  };
  std::vector<Bin> ascending_bins() const {
    std::vector<Bin> bins;
    auto visit = [&](std::size_t slot, std::size_t fine) {
      const std::uint64_t count = (*blocks_[slot])[fine];
      if (count == 0) return;
      const std::uint32_t key = static_cast<std::uint32_t>(slot << kFineBits | fine);
      const std::uint32_t magnitude_key = key & 0x7FFFFFu;
      const double low = std::bit_cast<float>(magnitude_key << kKeyShift);
      const std::uint32_t next = (magnitude_key + 1) << kKeyShift;
      const double high = next >= 0x7F800000u ? std::ldexp(1.0, 128) : std::bit_cast<float>(next);
      if (key >> 23) {
        bins.push_back({-high, -low, count});
      } else {
        bins.push_back({low, high, count});
      }
    };
    // Negative floats: larger bit patterns are smaller values.
    for (std::size_t slot = kSlots; slot-- > kSlots / 2;) {
      if (!blocks_[slot]) continue;
      for (std::size_t fine = kFine; fine-- > 0;) visit(slot, fine);
    }
    for (std::size_t slot = 0; slot < kSlots / 2; ++slot) {
      if (!blocks_[slot]) continue;
      for (std::size_t fine = 0; fine < kFine; ++fine) visit(slot, fine);
    }
    return bins;
  }

 private:
  std::array<std::unique_ptr<Block>, kSlots> blocks_{};
};

// ---------------------------------------------------------------------------------------------
// FieldStatistics

FieldStatistics::FieldStatistics(StatisticsOptions options)
    : options_(std::move(options)),
      min_(std::numeric_limits<float>::infinity()),
      max_(-std::numeric_limits<float>::infinity()) {
  options_.validate();
  if (options_.histogram_fixed_range) {
    fixed_counts_.assign(static_cast<std::size_t>(options_.histogram_bins), 0);
    fixed_bins_ = std::make_shared<const FixedBins>(options_.histogram_min, options_.histogram_max,
                                                    options_.histogram_bins);
  }
}

FieldStatistics::FieldStatistics(FieldStatistics&&) noexcept = default;
FieldStatistics& FieldStatistics::operator=(FieldStatistics&&) noexcept = default;
FieldStatistics::~FieldStatistics() = default;

FieldStatistics::FieldStatistics(const FieldStatistics& other)
    : options_(other.options_),
      moments_(other.moments_),
      skipped_(other.skipped_),
      min_(other.min_),
      max_(other.max_),
      fixed_counts_(other.fixed_counts_),
      fixed_bins_(other.fixed_bins_),
      below_(other.below_),
      above_(other.above_),
      values_(other.values_),
      fine_(other.fine_ ? std::make_unique<FineHistogram>(*other.fine_) : nullptr) {}

FieldStatistics& FieldStatistics::operator=(const FieldStatistics& other) {
  if (this != &other) *this = FieldStatistics(other);
  return *this;
}

inline void FieldStatistics::add_value(float value) {
  if (!std::isfinite(value)) {
    ++skipped_;
    return;
  }
  moments_.add(value);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  if (fixed_bins_) {
    const long bin = fixed_bins_->bin(value);
    if (bin < 0) {
      ++below_;
    } else if (bin >= options_.histogram_bins) {
      ++above_;
    } else {
      ++fixed_counts_[static_cast<std::size_t>(bin)];
    }
  }
  if (fine_) {
    fine_->add(value);
  } else {
    values_.push_back(value);
    // Checked per value, so the kept values never exceed the limit by more than one.
    if (values_.size() > options_.exact_value_limit) switch_to_fine();
  }
}

void FieldStatistics::switch_to_fine() {
  fine_ = std::make_unique<FineHistogram>();
  for (float v : values_) fine_->add(v);
  std::vector<float>().swap(values_);
}

void FieldStatistics::add(std::span<const float> values) {
  for (float v : values) add_value(v);
}

void FieldStatistics::add(std::span<const float> values, std::span<const std::uint8_t> mask) {
  if (mask.size() != values.size()) {
    throw std::invalid_argument("statistics: " + std::to_string(values.size()) +
                                " values but a mask of " + std::to_string(mask.size()));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (mask[i] != 0) add_value(values[i]);
  }
}

void FieldStatistics::add(const cv::Mat& values, const cv::Mat& mask) {
  if (values.empty()) return;
  if (values.type() != CV_32FC1) {
    throw std::invalid_argument("statistics: the layer must be CV_32FC1");
  }
  if (!mask.empty() && (mask.type() != CV_8UC1 || mask.size() != values.size())) {
    throw std::invalid_argument("statistics: the mask must be CV_8UC1 of the layer's size");
  }
  const auto cols = static_cast<std::size_t>(values.cols);
  for (int r = 0; r < values.rows; ++r) {
    std::span<const float> row(values.ptr<float>(r), cols);
    if (mask.empty()) {
      add(row);
    } else {
      add(row, std::span<const std::uint8_t>(mask.ptr<std::uint8_t>(r), cols));
    }
  }
}

void FieldStatistics::merge(const FieldStatistics& other) {
  if (this == &other) {
    const FieldStatistics copy(other);
    merge(copy);
    return;
  }
  if (!(options_ == other.options_)) {
    throw std::invalid_argument("statistics: cannot merge partials made with different options");
  }
  moments_.merge(other.moments_);
  skipped_ += other.skipped_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  for (std::size_t i = 0; i < fixed_counts_.size(); ++i) fixed_counts_[i] += other.fixed_counts_[i];
  below_ += other.below_;
  above_ += other.above_;
  // The mode depends on the total count alone, so every grouping of partials ends alike.
  if (!fine_ && !other.fine_ && moments_.count() <= options_.exact_value_limit) {
    values_.insert(values_.end(), other.values_.begin(), other.values_.end());
    return;
  }
  if (!fine_) switch_to_fine();
  if (other.fine_) {
    fine_->merge(*other.fine_);
  } else {
    for (float v : other.values_) fine_->add(v);
  }
}

StatisticsSummary FieldStatistics::summary() const {
  StatisticsSummary out;
  const std::uint64_t n = moments_.count();
  out.count = n;
  out.skipped = skipped_;
  out.percentile_ranks = options_.percentiles;
  out.percentiles.assign(options_.percentiles.size(), kNaN);
  out.percentiles_exact = !fine_;
  out.histogram.exact = !fine_;
  const int bins = options_.histogram_bins;
  if (options_.histogram_fixed_range) {
    out.histogram.lower = options_.histogram_min;
    out.histogram.upper = options_.histogram_max;
    out.histogram.counts = fixed_counts_;
    out.histogram.below = below_;
    out.histogram.above = above_;
    out.histogram.exact = true;
  } else {
    out.histogram.counts.assign(static_cast<std::size_t>(bins), 0);
  }
  if (n == 0) {
    out.mean = out.std = out.min = out.max = kNaN;
    if (!options_.histogram_fixed_range) out.histogram.lower = out.histogram.upper = kNaN;
    return out;
  }
  out.mean = moments_.mean();
  out.std = std::sqrt(moments_.variance());
  out.min = min_;
  out.max = max_;
  if (!options_.histogram_fixed_range) {
    // numpy.histogram with an empty range widens it to [v - 0.5, v + 0.5].
    out.histogram.lower = min_ == max_ ? out.min - 0.5 : out.min;
    out.histogram.upper = min_ == max_ ? out.max + 0.5 : out.max;
  }
  const BinEdges observed(out.histogram.lower, out.histogram.upper, bins);
  auto observed_bin = [&](double x) {
    return static_cast<std::size_t>(std::clamp(observed.bin(x), 0L, static_cast<long>(bins) - 1));
  };

  // Order statistic of 0-based rank r.
  std::vector<float> sorted;
  std::vector<FineHistogram::Bin> fine_bins;
  std::vector<std::uint64_t> cumulative;  // values before each fine bin
  if (!fine_) {
    sorted = values_;
    std::sort(sorted.begin(), sorted.end());
  } else {
    fine_bins = fine_->ascending_bins();
    cumulative.reserve(fine_bins.size());
    std::uint64_t before = 0;
    for (const auto& bin : fine_bins) {
      cumulative.push_back(before);
      before += bin.count;
    }
  }
  auto order_statistic = [&](std::uint64_t r) -> double {
    if (!fine_) return sorted[r];
    if (r == 0) return out.min;
    if (r == n - 1) return out.max;
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), r);
    const std::size_t i = static_cast<std::size_t>(it - cumulative.begin()) - 1;
    const auto& bin = fine_bins[i];
    // Uniform within the bin: the j-th of k values sits at (j + 0.5) / k of its width.
    const double position =
        (static_cast<double>(r - cumulative[i]) + 0.5) / static_cast<double>(bin.count);
    return std::clamp(bin.low + position * (bin.high - bin.low), out.min, out.max);
  };
  for (std::size_t i = 0; i < options_.percentiles.size(); ++i) {
    const double h = static_cast<double>(n - 1) * options_.percentiles[i] / 100.0;
    const double below = std::floor(h);
    const auto r = static_cast<std::uint64_t>(below);
    const double a = order_statistic(r);
    out.percentiles[i] = r + 1 < n ? lerp(a, order_statistic(r + 1), h - below) : a;
  }
  if (!options_.histogram_fixed_range) {
    if (!fine_) {
      for (float v : sorted) ++out.histogram.counts[observed_bin(v)];
    } else {
      for (const auto& bin : fine_bins) {
        const double middle = std::clamp(0.5 * (bin.low + bin.high), out.min, out.max);
        out.histogram.counts[observed_bin(middle)] += bin.count;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// BandMeanAccumulator

void BandMeanAccumulator::add(const BandRows& bands, std::size_t n, const std::uint8_t* mask) {
  int present = 0;
  const float* rows[kRoles];
  for (std::size_t r = 0; r < kRoles; ++r) {
    rows[r] = bands.of(kAllBandRoles[r]);
    if (rows[r] != nullptr) present |= 1 << r;
  }
  if (present_ == -1) present_ = present;
  if (present != present_) {
    throw std::invalid_argument("band means: the bands offered changed between calls");
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (mask != nullptr && mask[i] == 0) continue;
    bool valid = true;
    for (std::size_t r = 0; r < kRoles && valid; ++r) {
      valid = rows[r] == nullptr || std::isfinite(rows[r][i]);
    }
    if (!valid) continue;
    for (std::size_t r = 0; r < kRoles; ++r) {
      if (rows[r] != nullptr) sums_[r].add(rows[r][i]);
    }
    ++pixels_;
  }
}

void BandMeanAccumulator::merge(const BandMeanAccumulator& other) {
  if (other.present_ == -1) return;
  if (present_ == -1) present_ = other.present_;
  if (present_ != other.present_) {
    throw std::invalid_argument("band means: cannot merge partials over different bands");
  }
  for (std::size_t r = 0; r < kRoles; ++r) sums_[r].merge(other.sums_[r]);
  pixels_ += other.pixels_;
}

std::uint64_t BandMeanAccumulator::count() const {
  return pixels_;
}

bool BandMeanAccumulator::has(BandRole role) const {
  return present_ != -1 && (present_ >> static_cast<int>(role) & 1) != 0;
}

double BandMeanAccumulator::mean(BandRole role) const {
  if (!has(role)) return kNaN;
  return sums_[static_cast<std::size_t>(role)].mean();
}

float BandMeanAccumulator::index_of_means(const IndexDefinition& index) const {
  for (BandRole role : index.needs) {
    if (!has(role) || pixels_ == 0) return std::numeric_limits<float>::quiet_NaN();
  }
  auto m = [&](BandRole role) { return static_cast<float>(mean(role)); };
  return index_of_values(index, m(BandRole::blue), m(BandRole::green), m(BandRole::red),
                         m(BandRole::red_edge), m(BandRole::nir));
}

}  // namespace fieldrx
