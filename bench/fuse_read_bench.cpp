// Reading memd's buddyinfo through its FUSE mount, against the floor: the same
// bytes served by a minimal libfuse filesystem (bench/fuse_floor.cpp) in the
// same run. Each iteration does one open+read+close of each file, alternately,
// so drift on a busy host hits both alike. Target (product.md): memd costs at
// most 1.2x the floor, also with 8 concurrent readers and allocations going on.
// ratio_p50 is memd's median over the floor's.
//
// Needs root and /dev/fuse. Run:  build/bench/bench_fuse_read
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Child {
  pid_t pid = -1;
};

std::string g_dir;
std::string g_memd_file, g_floor_file, g_socket;
std::vector<Child> g_children;

bool wait_for_file(const std::string& path, int seconds) {
  for (int i = 0; i < seconds * 100; ++i) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    usleep(10000);
  }
  return false;
}

pid_t spawn(std::vector<std::string> argv) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> a;
    for (auto& s : argv)
      a.push_back(s.data());
    a.push_back(nullptr);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execv(a[0], a.data());
    _exit(127);
  }
  g_children.push_back({pid});
  return pid;
}

void teardown() {
  for (auto& c : g_children) {
    if (c.pid > 0) {
      kill(c.pid, SIGTERM);
      waitpid(c.pid, nullptr, 0);
    }
  }
  g_children.clear();
  if (!g_dir.empty()) {
    umount2((g_dir + "/memd").c_str(), MNT_DETACH);
    umount2((g_dir + "/floor").c_str(), MNT_DETACH);
    std::string cmd = "rm -rf '" + g_dir + "'";
    (void)std::system(cmd.c_str());
  }
}

void teardown();

size_t read_whole(const std::string& path) {
  char buf[8192];
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    std::fprintf(stderr, "bench_fuse_read: %s: %s\n", path.c_str(), std::strerror(errno));
    teardown();  // never leave the mounts behind
    std::_Exit(1);
  }
  size_t total = 0;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    total += static_cast<size_t>(n);
  close(fd);
  return total;
}

double seconds_of(const std::string& path) {
  auto t0 = std::chrono::steady_clock::now();
  benchmark::DoNotOptimize(read_whole(path));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One command on memd's socket; returns the reply line.
std::string command(int fd, const std::string& line) {
  std::string out = line + "\n";
  if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return {};
  std::string reply;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n')
    reply += c;
  return reply;
}

// Background load: 8 readers on both mounts, one client allocating and freeing.
class Load {
 public:
  void start() {
    for (int i = 0; i < 8; ++i) {
      threads_.emplace_back([this] {
        while (!stop_) {
          read_whole(g_memd_file);
          read_whole(g_floor_file);
        }
      });
    }
    threads_.emplace_back([this] {
      int fd = socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", g_socket.c_str());
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
      while (!stop_) {
        command(fd, "alloc order=0 gfp=GFP_KERNEL count=64");
        command(fd, "alloc order=3 gfp=GFP_HIGHUSER_MOVABLE count=8");
        command(fd, "free all");
      }
      close(fd);
    });
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    stop_ = false;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// The q-quantile of `v` (sorted in place).
double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// Reports medians (the ratio the target is about: a descheduled FUSE worker
// on a shared 2-core host costs either side hundreds of microseconds now and
// then, which moves means by 2x from run to run) and 90th percentiles.
void BM_BuddyinfoVsFloor(benchmark::State& state) {
  Load load;
  if (state.range(0)) load.start();
  std::vector<double> memd, floor;
  for (auto _ : state) {
    floor.push_back(seconds_of(g_floor_file));
    memd.push_back(seconds_of(g_memd_file));
  }
  if (state.range(0)) load.stop();
  double sum_memd = 0, sum_floor = 0;
  for (size_t i = 0; i < memd.size(); ++i) {
    sum_memd += memd[i];
    sum_floor += floor[i];
  }
  const double n = static_cast<double>(memd.size());
  state.counters["memd_mean_us"] = sum_memd / n * 1e6;
  state.counters["floor_mean_us"] = sum_floor / n * 1e6;
  const double memd_p50 = quantile(memd, 0.5), floor_p50 = quantile(floor, 0.5);
  state.counters["memd_p50_us"] = memd_p50 * 1e6;
  state.counters["floor_p50_us"] = floor_p50 * 1e6;
  state.counters["memd_p90_us"] = quantile(memd, 0.9) * 1e6;
  state.counters["floor_p90_us"] = quantile(floor, 0.9) * 1e6;
  state.counters["ratio_p50"] = memd_p50 / floor_p50;
}
BENCHMARK(BM_BuddyinfoVsFloor)->Arg(0)->Arg(1)->ArgName("loaded")->MinTime(2.0)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
    std::fprintf(stderr, "bench_fuse_read: needs root and /dev/fuse; skipped\n");
    return 0;
  }
  char tmpl[] = "/tmp/memd-fusebench.XXXXXX";
  g_dir = mkdtemp(tmpl);
  mkdir((g_dir + "/memd").c_str(), 0755);
  mkdir((g_dir + "/floor").c_str(), 0755);
  g_socket = g_dir + "/memd.sock";
  {
    std::ofstream cfg(g_dir + "/memd.toml");
    cfg << "[daemon]\nstate_dir = \"" << g_dir << "/state\"\n";
  }
  spawn({MEMD_BINARY, "--foreground", "--config", g_dir + "/memd.toml", "--mount", g_dir + "/memd",
         "--socket", g_socket});
  g_memd_file = g_dir + "/memd/buddyinfo";
  if (!wait_for_file(g_memd_file, 20)) {
    std::fprintf(stderr, "memd did not mount\n");
    teardown();
    return 1;
  }
  // The floor serves memd's own buddyinfo bytes.
  {
    std::ifstream in(g_memd_file);
    std::ofstream out(g_dir + "/content");
    out << in.rdbuf();
  }
  spawn({FUSE_FLOOR_BINARY, g_dir + "/floor", g_dir + "/content"});
  g_floor_file = g_dir + "/floor/buddyinfo";
  if (!wait_for_file(g_floor_file, 20)) {
    std::fprintf(stderr, "fuse_floor did not mount\n");
    teardown();
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  teardown();
  return 0;
}
