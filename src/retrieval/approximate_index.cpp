#include "retrieval/approximate_index.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <hnswlib/hnswlib.h>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/half.h"
#include "kernels/similarity.h"
#include "retrieval/flat_vector_file.h"

namespace lmforge::retrieval {
namespace {

// Inner-product distance (1 - dot) through exact search's kernel, which picks the widest SIMD
// the machine has at run time; hnswlib's own functions are chosen at compile time, and the
// portable build would get SSE only.
class KernelInnerProductSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit KernelInnerProductSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float distance(const void* a, const void* b, const void* dim) {
    float dot = 0;
    dot_rows_f32(static_cast<const float*>(a), 1, *static_cast<const size_t*>(dim), static_cast<const float*>(b), &dot);
    return 1.0f - dot;
  }
  size_t dim_;  // hnswlib reads its parameter as a size_t
};

// An anonymous in-memory file that hnswlib's path-based saveIndex can write by name
// (/proc/self/fd/N), so that its bytes can be checksummed and written behind our header.
class MemoryFile {
 public:
  MemoryFile() : fd_(::memfd_create("lmforge-hnsw", MFD_CLOEXEC)) {
    if (fd_ < 0) fail("memfd", "cannot make an in-memory file for the approximate index");
  }
  ~MemoryFile() { ::close(fd_); }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

struct ApproximateIndex::Graph {
  explicit Graph(size_t dim) : space(dim) {}
  ~Graph() {
    if (hnsw && adopted) {
      // The records and lists belong to the mapping, not to malloc: leave hnswlib's destructor
      // only what load() allocated (the pointer array and the visited-list pool).
      hnsw->data_level0_memory_ = nullptr;
      hnsw->cur_element_count = 0;
    }
  }
  KernelInnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  bool adopted = false;
  std::shared_ptr<const void> mapping;  // kept alive while hnsw points into it
};

ApproximateIndex::ApproximateIndex() = default;
ApproximateIndex::~ApproximateIndex() = default;

std::unique_ptr<ApproximateIndex> ApproximateIndex::build(const void* rows, uint32_t element_type,
                                                          std::span<const int64_t> ids, uint32_t dim,
                                                          const HnswParameters& parameters, unsigned threads,
                                                          const std::function<void(uint64_t)>& on_progress) {
  auto index = std::unique_ptr<ApproximateIndex>(new ApproximateIndex());
  index->shape_ = {ids.size(), dim, parameters.m, parameters.ef_construction};
  index->graph_ = std::make_unique<Graph>(dim);
  try {
    // max_elements = count: the graph is never grown (a changed index is rebuilt), and the
    // file's sizes then follow from the count alone (hnsw_layout.h checks them).
    index->graph_->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &index->graph_->space, std::max<size_t>(ids.size(), 1), parameters.m, parameters.ef_construction);
  } catch (const std::exception& e) {
    fail("approximate index", std::string("hnswlib could not make the graph: ") + e.what());
  }
  hnswlib::HierarchicalNSW<float>& hnsw = *index->graph_->hnsw;
  const size_t row_bytes = size_t{dim} * vector_element_size(element_type);
  auto insert = [&](size_t i, std::vector<float>& widened) {
    const void* row = static_cast<const uint8_t*>(rows) + i * row_bytes;
    if (element_type == kVectorElementF16) {
      const auto* halves = static_cast<const uint16_t*>(row);
      for (size_t j = 0; j < dim; ++j) widened[j] = fp16_to_fp32(halves[j]);
      row = widened.data();
    }
    hnsw.addPoint(row, static_cast<hnswlib::labeltype>(ids[i]));
  };
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&](bool reports) {
    std::vector<float> widened(dim);
    try {
      for (size_t i; (i = next.fetch_add(1)) < ids.size();) {
        insert(i, widened);
        const uint64_t d = done.fetch_add(1) + 1;
        if (reports && on_progress && d % 1024 == 0) on_progress(d);
      }
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      next.store(ids.size());
    }
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < std::max(threads, 1u) && ids.size() > 1024; ++t) helpers.emplace_back(worker, false);
  worker(true);
  for (auto& h : helpers) h.join();
  if (first_error) {
    try {
      std::rethrow_exception(first_error);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail("approximate index", std::string("hnswlib failed while inserting: ") + e.what());
    }
  }
  if (on_progress) on_progress(ids.size());
  return index;
}

std::unique_ptr<ApproximateIndex> ApproximateIndex::load(std::span<const uint8_t> payload, const HnswShape& shape,
                                                         std::shared_ptr<const void> keep_alive) {
  if (!check_hnsw_payload(payload, shape).empty()) return nullptr;
  if (shape.count == 0) return nullptr;  // never written: an empty index is searched exactly
  // Every value below was checked against `shape` by check_hnsw_payload (hnsw_layout.h has the
  // layout); what hnswlib's loadIndex would set, set from them.
  const uint8_t* p = payload.data();
  auto read_i32 = [&](size_t at) {
    int32_t v;
    std::memcpy(&v, p + at, 4);
    return v;
  };
  auto read_u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, p + at, 4);
    return v;
  };
  double mult;
  std::memcpy(&mult, p + 80, 8);
  const size_t count = shape.count, m = shape.m;
  auto index = std::unique_ptr<ApproximateIndex>(new ApproximateIndex());
  index->shape_ = shape;
  index->graph_ = std::make_unique<Graph>(shape.dim);
  Graph& graph = *index->graph_;
  graph.hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(&graph.space);  // sets nothing
  graph.adopted = true;
  graph.mapping = std::move(keep_alive);
  hnswlib::HierarchicalNSW<float>& h = *graph.hnsw;
  h.max_elements_ = count;
  h.cur_element_count = 0;  // until the pointers below are in place (see ~Graph)
  h.num_deleted_ = 0;       // checked: no element carries the deleted mark
  h.M_ = m;
  h.maxM_ = m;
  h.maxM0_ = 2 * m;
  h.ef_construction_ = shape.ef_construction;
  h.ef_ = 10;
  h.mult_ = mult;
  h.revSize_ = 1.0 / mult;
  h.maxlevel_ = read_i32(48);
  h.enterpoint_node_ = read_u32(52);
  h.size_links_level0_ = h.maxM0_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  h.size_links_per_element_ = h.maxM_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  h.data_size_ = graph.space.get_data_size();
  h.size_data_per_element_ = h.size_links_level0_ + h.data_size_ + sizeof(hnswlib::labeltype);
  h.offsetData_ = h.size_links_level0_;
  h.label_offset_ = h.size_links_level0_ + h.data_size_;
  h.offsetLevel0_ = 0;
  h.fstdistfunc_ = graph.space.get_dist_func();
  h.dist_func_param_ = graph.space.get_dist_func_param();
  h.element_levels_.assign(count, 0);  // set below; ~Graph keeps hnswlib from freeing our lists
  h.visited_list_pool_ = new hnswlib::VisitedListPool(1, static_cast<int>(count));
  h.linkLists_ = static_cast<char**>(std::malloc(sizeof(char*) * count));
  if (h.linkLists_ == nullptr) return nullptr;
  uint8_t* records = const_cast<uint8_t*>(p + kHnswPayloadHeaderBytes);  // searched, never written
  h.data_level0_memory_ = reinterpret_cast<char*>(records);
  size_t at = kHnswPayloadHeaderBytes + hnsw_level0_bytes(shape);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t bytes = read_u32(at);
    at += 4;
    h.linkLists_[i] = bytes == 0 ? nullptr : reinterpret_cast<char*>(const_cast<uint8_t*>(p + at));
    h.element_levels_[i] = static_cast<int>(bytes / h.size_links_per_element_);  // saveIndex needs them
    at += bytes;
  }
  h.cur_element_count = count;
  return index;
}

void ApproximateIndex::write_payload(const std::function<void(std::span<const uint8_t>)>& sink) const {
  MemoryFile file;
  graph_->hnsw->saveIndex(file.path());
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0 || st.st_size <= 0) fail("approximate index", "hnswlib wrote no graph");
  const auto size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd(), 0);
  if (map == MAP_FAILED) fail("approximate index", "cannot map the graph hnswlib wrote");
  try {
    sink({static_cast<const uint8_t*>(map), size});
  } catch (...) {
    ::munmap(map, size);
    throw;
  }
  ::munmap(map, size);
}

std::vector<ScoredChunk> ApproximateIndex::search(std::span<const float> query, size_t k, size_t ef) const {
  std::vector<ScoredChunk> out;
  if (k == 0 || query.size() != shape_.dim || shape_.count == 0) return out;
  std::priority_queue<std::pair<float, hnswlib::labeltype>> found;
  {
    std::lock_guard lock(search_mutex_);
    graph_->hnsw->setEf(std::max(ef, k));
    found = graph_->hnsw->searchKnn(query.data(), k);
  }
  for (; !found.empty(); found.pop()) {
    out.push_back({static_cast<int64_t>(found.top().second), 1.0 - double{found.top().first}});
  }
  std::sort(out.begin(), out.end(), [](const ScoredChunk& a, const ScoredChunk& b) {
    return a.score != b.score ? a.score > b.score : a.chunk_id < b.chunk_id;
  });
  return out;
}

}  // namespace lmforge::retrieval
