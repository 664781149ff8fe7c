// gpt_logits CHECKPOINT TEXT OUT: the logits of the byte-level GPT in CHECKPOINT
// for TEXT, written to the safetensors file OUT as "ids" [1, T] and "logits"
// [1, T, V]. tests/reference/gpt.py compares them with PyTorch's for the same
// checkpoint, in both directions (a checkpoint heed trained, one PyTorch wrote).
#include <iostream>

#include "gpt/model.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: gpt_logits CHECKPOINT TEXT OUT.safetensors\n";
    return 2;
  }
  try {
    gpt::GPT model(gpt::GPT::read_config(argv[1]));
    model.load(argv[1]);
    model.eval();
    heed::NoGradGuard no_grad;
    heed::Tensor ids = gpt::encode(argv[2]);
    heed::StateDict out;
    out.set("ids", ids);
    out.set("logits", model(ids));
    heed::save_safetensors(out, argv[3]);
  } catch (const heed::Error& e) {
    std::cerr << "gpt_logits: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
