#include "heed/autograd/graphviz.h"

#include <fstream>
#include <sstream>
#include <unordered_map>

#include "heed/autograd/anomaly.h"
#include "heed/autograd/node.h"

namespace heed {

namespace {

// A DOT string sits in double quotes: quotes and backslashes in it are escaped,
// and a line break is written \n, which Graphviz draws as a new line.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// "[10, 50]", with the dtype added when it is not the default float32.
std::string shape_text(const Shape& shape, DType dtype) {
  return dtype == kFloat32 ? msg(shape) : msg(shape, " ", dtype);
}

// The names of DotOptions, looked up by what the graph holds: a leaf appears as
// its AccumulateGrad node's `leaf`, a tensor made by an op as its grad_fn. The
// first name given for a tensor wins (like named_parameters() for tied weights).
struct NameIndex {
  std::unordered_map<const TensorImpl*, std::string> leaves;
  std::unordered_map<const Node*, std::string> ops;

  explicit NameIndex(const DotOptions& options) {
    for (const auto& [name, t] : options.names) {
      if (!t.defined()) continue;
      if (t.grad_fn())
        ops.try_emplace(t.grad_fn().get(), name);
      else
        leaves.try_emplace(t.impl_ptr().get(), name);
    }
  }
  std::string leaf(const TensorImpl* impl) const {
    auto it = leaves.find(impl);
    return it == leaves.end() ? "leaf" : it->second;
  }
  std::string op(const Node& node) const {
    auto it = ops.find(&node);
    return it == ops.end() ? node.name() : it->second + " = " + node.name();
  }
};

constexpr const char* kLeafStyle = "fillcolor=lightblue";

void write_header(std::ostream& out, const DotOptions& options) {
  out << "digraph autograd {\n";
  out << "  graph [rankdir=TB, fontname=\"Helvetica\"";
  if (!options.title.empty()) out << ", label=" << quoted(options.title) << ", labelloc=t";
  out << "];\n";
  out << "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=\"Helvetica\"];\n";
}

// One node statement: `  n3 [label="...", ...];`
void write_node(std::ostream& out, size_t id, const Node& node, bool is_root, const NameIndex& names) {
  out << "  n" << id << " [label=";
  if (node.leaf) {
    out << quoted(names.leaf(node.leaf.get()) + "\n" + shape_text(node.leaf->shape, node.leaf->dtype)) << ", "
        << kLeafStyle;
  } else {
    out << quoted(names.op(node) + "\n" + shape_text(node.output_shape(), node.output_dtype()));
    if (node.creation_site) out << ", tooltip=" << quoted("created at " + node.creation_site->describe());
  }
  if (is_root) out << ", penwidth=3";
  out << "];\n";
}

}  // namespace

std::string to_dot(const Tensor& root, const DotOptions& options) {
  if (!root.defined()) throw ValueError("to_dot: the tensor is undefined; there is no graph to draw");
  NameIndex names(options);
  std::ostringstream out;
  write_header(out, options);

  const Node* start = root.grad_fn().get();
  if (!start) {  // a leaf: no op made it, so the graph is this one box
    const TensorImpl& impl = root.impl();
    out << "  n0 [label=" << quoted(names.leaf(&impl) + "\n" + shape_text(impl.shape, impl.dtype));
    if (root.requires_grad()) out << ", " << kLeafStyle;
    out << ", penwidth=3];\n}\n";
    return out.str();
  }

  // Number every node reachable from the root, breadth first. `order` is the list
  // of nodes and the queue of the walk at once: index i is node n<i>.
  std::unordered_map<const Node*, size_t> id{{start, 0}};
  std::vector<const Node*> order{start};
  for (size_t i = 0; i < order.size(); ++i)
    for (const Edge& e : order[i]->next_edges())
      if (e.node && id.try_emplace(e.node.get(), order.size()).second) order.push_back(e.node.get());

  for (size_t i = 0; i < order.size(); ++i) write_node(out, i, *order[i], i == 0, names);
  // Arrows in the forward direction: input -> the op that consumed it.
  for (size_t i = 0; i < order.size(); ++i)
    for (const Edge& e : order[i]->next_edges())
      if (e.node) out << "  n" << id.at(e.node.get()) << " -> n" << i << ";\n";
  out << "}\n";
  return out.str();
}

void save_dot(const Tensor& root, const std::string& path, const DotOptions& options) {
  std::string text = to_dot(root, options);
  std::ofstream file(path);
  if (!file) throw IOError(msg("save_dot: cannot open '", path, "' for writing"));
  file << text;
  if (!file) throw IOError(msg("save_dot: writing '", path, "' failed"));
}

}  // namespace heed
