#include "heed/nn/summary.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <typeinfo>
#include <vector>

#include "heed/autograd/grad_mode.h"

namespace heed::nn {

namespace detail {
thread_local constinit OutputRecorder t_output_recorder = nullptr;
}  // namespace detail

namespace {

thread_local std::map<const Module*, Shape>* t_shapes = nullptr;

void record(const Module& m, const Tensor& y) { (*t_shapes)[&m] = y.shape(); }

// "heed::nn::Linear" -> "Linear": the class's own name, without its namespaces.
std::string type_name(const Module& m) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> full(abi::__cxa_demangle(typeid(m).name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && full ? full.get() : typeid(m).name();
  const size_t colons = name.rfind("::");
  return colons == std::string::npos ? name : name.substr(colons + 2);
}

// 1234567 -> "1,234,567"
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Row {
  std::string name, type, output, params;
};

void rows_of(const Module& m, const std::string& name, const std::map<const Module*, Shape>& shapes,
             std::vector<Row>& rows) {
  auto it = shapes.find(&m);
  std::ostringstream shape;
  if (it != shapes.end()) shape << it->second;
  rows.push_back({name, type_name(m), it == shapes.end() ? "-" : shape.str(), grouped(m.num_parameters())});
  for (const auto& [child_name, child] : m.named_children())
    rows_of(*child, name == "(model)" ? child_name : name + "." + child_name, shapes, rows);
}

}  // namespace

std::string summary(const Module& model, const std::function<void()>& run) {
  std::map<const Module*, Shape> shapes;
  if (run) {
    NoGradGuard no_grad;
    // Restores the recorder however run() ends (it may throw).
    struct Recording {
      std::map<const Module*, Shape>* saved_shapes = t_shapes;
      detail::OutputRecorder saved_recorder = detail::t_output_recorder;
      ~Recording() {
        t_shapes = saved_shapes;
        detail::t_output_recorder = saved_recorder;
      }
    } recording;
    t_shapes = &shapes;
    detail::t_output_recorder = record;
    run();
  }
  std::vector<Row> rows{{"module", "type", "output", "parameters"}};
  rows_of(model, "(model)", shapes, rows);
  size_t w[3] = {0, 0, 0}, wp = 0;
  for (const Row& r : rows) {
    w[0] = std::max(w[0], r.name.size());
    w[1] = std::max(w[1], r.type.size());
    w[2] = std::max(w[2], r.output.size());
    wp = std::max(wp, r.params.size());
  }
  std::ostringstream out;
  for (const Row& r : rows)
    out << r.name << std::string(w[0] - r.name.size() + 2, ' ') << r.type << std::string(w[1] - r.type.size() + 2, ' ')
        << r.output << std::string(w[2] - r.output.size() + 2, ' ') << std::string(wp - r.params.size(), ' ') << r.params
        << "\n";
  out << grouped(model.num_parameters()) << " parameters (" << grouped(model.num_parameters(true)) << " trainable)\n";
  return out.str();
}

}  // namespace heed::nn
