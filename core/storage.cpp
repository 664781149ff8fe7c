#include "heed/core/storage.h"

#include <atomic>
#include <cstring>
#include <new>

#include "heed/core/error.h"

namespace heed {

namespace {
std::atomic<int64_t> g_live_bytes{0};
constexpr size_t kAlignment = 64;
// Far beyond this machine's memory: a request this large is a bug in the caller
// (or a hostile file), and it should fail with a message, not with the OOM killer.
constexpr size_t kMaxBytes = size_t{1} << 40;
}  // namespace

Storage::Storage(size_t nbytes, bool zero_fill) : nbytes_(nbytes) {
  if (nbytes > kMaxBytes) throw ValueError(msg("Storage: refusing to allocate ", nbytes, " bytes"));
  // Round up: aligned new needs a size that is a multiple of the alignment, and 0 bytes
  // still gets a valid pointer so data() is never null.
  size_t padded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  if (padded == 0) padded = kAlignment;
  data_ = ::operator new(padded, std::align_val_t{kAlignment});
  if (zero_fill) std::memset(data_, 0, padded);
  g_live_bytes += static_cast<int64_t>(nbytes_);
}

Storage::~Storage() {
  ::operator delete(data_, std::align_val_t{kAlignment});
  g_live_bytes -= static_cast<int64_t>(nbytes_);
}

int64_t Storage::live_bytes() { return g_live_bytes.load(); }

}  // namespace heed
