#include "common/heatmap_input.h"

#include "heed/core/error.h"

namespace examples {

using heed::msg;
using heed::ValueError;

std::vector<std::string> labels_or_indices(const std::vector<std::string>& labels, int64_t n) {
  if (!labels.empty()) return labels;
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(std::to_string(i));
  return out;
}

void check_heatmap_input(const char* who, const heed::Tensor& w, const std::vector<std::string>& rows,
                         const std::vector<std::string>& cols, std::optional<double> vmin,
                         std::optional<double> vmax) {
  if (!w.defined()) throw ValueError(msg(who, ": weights is an undefined tensor"));
  if (w.dim() != 2)
    throw ValueError(msg(who, ": weights is ", w.shape(), "; it must be 2-D [rows, columns] (select a batch "
                              "element or head first)"));
  if (w.numel() == 0) throw ValueError(msg(who, ": weights is ", w.shape(), "; there is nothing to draw"));
  if (!rows.empty() && static_cast<int64_t>(rows.size()) != w.size(0))
    throw ValueError(msg(who, ": weights is ", w.shape(), " but there are ", rows.size(),
                         " row labels; there must be one per row (", w.size(0), ") or none"));
  if (!cols.empty() && static_cast<int64_t>(cols.size()) != w.size(1))
    throw ValueError(msg(who, ": weights is ", w.shape(), " but there are ", cols.size(),
                         " column labels; there must be one per column (", w.size(1), ") or none"));
  if (vmin && vmax && !(*vmin < *vmax))
    throw ValueError(msg(who, ": vmin (", *vmin, ") must be less than vmax (", *vmax, ")"));
}

}  // namespace examples
