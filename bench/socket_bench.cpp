// Requests per second on memd's socket against redis-server's, measured by
// the same client program in the same run (issue 15's target: memd answers
// at least half of Redis's rate, one request at a time and pipelined).
//
// The program starts both servers itself, each on a Unix socket in a
// temporary directory: memd on a 64 GiB machine (so that a run's allocations
// never run out), redis-server with persistence off. One client thread drives
// all connections through epoll. In each mode every connection keeps `depth`
// requests in flight: `alloc order=0 gfp=GFP_KERNEL` for memd (each reply is
// checked to be an allocation), `PING` for Redis (each reply `+PONG`). Modes
// alternate server by server for `rounds` rounds, so that drift on a busy
// host hits both alike; the median of the rounds is reported.
//
// Needs root (memd mounts its files) and /dev/fuse; redis-server on PATH
// (Debian: apt-get install redis-server). Run:
//   build/bench/bench_socket [--clients 32] [--depth 1,16] [--seconds 2] [--rounds 3]
//                            [--threads N (memd's socket_threads)]
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  int clients = 32;
  std::vector<int> depths{1, 16};
  double seconds = 2;
  int rounds = 3;
  int threads = 0;  // memd's socket_threads; 0: its default
};

std::string g_dir;
std::vector<pid_t> g_children;

void teardown() {
  for (pid_t pid : g_children) {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
  }
  g_children.clear();
  if (!g_dir.empty()) {
    umount2((g_dir + "/proc").c_str(), MNT_DETACH);
    const std::string cmd = "rm -rf '" + g_dir + "'";
    (void)std::system(cmd.c_str());
    g_dir.clear();
  }
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "bench_socket: %s\n", why.c_str());
  teardown();
  std::exit(1);
}

void on_signal(int) {
  teardown();
  std::_Exit(1);
}

pid_t spawn(std::vector<std::string> argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> a;
    for (auto& s : argv)
      a.push_back(s.data());
    a.push_back(nullptr);
    const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(out, 2);
    execvp(a[0], a.data());
    _exit(127);
  }
  g_children.push_back(pid);
  return pid;
}

int connect_to(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Waits until `path` accepts a connection and answers `request` with a line.
void wait_until_serving(const std::string& path, const std::string& request, const char* name) {
  for (int i = 0; i < 1000; ++i) {
    const int fd = connect_to(path);
    if (fd >= 0) {
      char buf[4096];
      const bool ok =
          write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()) &&
          read(fd, buf, sizeof buf) > 0;
      close(fd);
      if (ok) return;
    }
    usleep(10000);
  }
  die(std::string(name) + " did not start; its log is in " + g_dir);
}

struct Server {
  const char* name;
  std::string socket;
  std::string request;
  std::string reply_prefix;  // every reply line starts with it
};

struct Conn {
  int fd = -1;
  int in_flight = 0;
  std::string partial;  // the start of a reply line not yet complete
};

// Sends `n` requests on `c` (blocking: a request is a few dozen bytes).
void send_requests(Conn& c, const Server& s, int n, std::string& buf) {
  buf.clear();
  for (int i = 0; i < n; ++i)
    buf += s.request;
  size_t done = 0;
  while (done < buf.size()) {
    const ssize_t w = write(c.fd, buf.data() + done, buf.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die(std::string("write to ") + s.name + ": " + std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  c.in_flight += n;
}

// Counts the complete reply lines in what `c` received, checking each.
int take_replies(Conn& c, const Server& s, const char* data, size_t n) {
  int lines = 0;
  const char* p = data;
  const char* end = data + n;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!nl) {
      c.partial.append(p, end);
      break;
    }
    std::string_view line(p, static_cast<size_t>(nl - p));
    std::string joined;
    if (!c.partial.empty()) {
      joined = c.partial + std::string(line);
      line = joined;
      c.partial.clear();
    }
    if (line.substr(0, s.reply_prefix.size()) != s.reply_prefix) {
      die(std::string(s.name) + " answered '" + std::string(line.substr(0, 200)) + "'");
    }
    ++lines;
    p = nl + 1;
  }
  c.in_flight -= lines;
  return lines;
}

// Requests answered per second with `clients` connections keeping `depth`
// requests in flight each, over `seconds`.
double measure(const Server& s, int clients, int depth, double seconds) {
  std::vector<Conn> conns(static_cast<size_t>(clients));
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  std::string buf;
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_to(s.socket);
    if (conns[i].fd < 0) die(std::string("cannot connect to ") + s.name);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    send_requests(conns[i], s, depth, buf);
  }
  std::vector<epoll_event> events(conns.size());
  std::vector<char> in(1 << 16);
  uint64_t answered = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < stop) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(std::string(s.name) + " stopped answering");
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[static_cast<size_t>(k)].data.u64];
      const ssize_t r = read(c.fd, in.data(), in.size());
      if (r <= 0) die(std::string(s.name) + " closed a connection");
      const int got = take_replies(c, s, in.data(), static_cast<size_t>(r));
      answered += static_cast<uint64_t>(got);
      if (got > 0) send_requests(c, s, got, buf);
    }
    now = std::chrono::steady_clock::now();
  }
  const double elapsed = std::chrono::duration<double>(now - start).count();
  // Drain what is still in flight so that the next run starts from quiet.
  for (Conn& c : conns) {
    while (c.in_flight > 0) {
      const ssize_t r = read(c.fd, in.data(), in.size());
      if (r <= 0) break;
      take_replies(c, s, in.data(), static_cast<size_t>(r));
    }
    close(c.fd);
  }
  close(ep);
  return static_cast<double>(answered) / elapsed;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc)
      die("usage: bench_socket [--clients N] [--depth A,B] [--seconds S] "
          "[--rounds R] [--threads T]");
    const std::string v = argv[++i];
    if (a == "--clients") {
      o.clients = std::stoi(v);
    } else if (a == "--depth") {
      o.depths.clear();
      std::stringstream ss(v);
      for (std::string d; std::getline(ss, d, ',');)
        o.depths.push_back(std::stoi(d));
    } else if (a == "--seconds") {
      o.seconds = std::stod(v);
    } else if (a == "--rounds") {
      o.rounds = std::stoi(v);
    } else if (a == "--threads") {
      o.threads = std::stoi(v);
    } else {
      die("unknown option " + a);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (std::system("command -v redis-server >/dev/null 2>&1") != 0) {
    die("redis-server is not installed (Debian: apt-get install redis-server)");
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/bench_socket.XXXXXX";
  if (!mkdtemp(tmpl)) die("mkdtemp failed");
  g_dir = tmpl;
  {
    std::ofstream cfg(g_dir + "/memd.toml");
    cfg << "[machine]\nsize = \"64G\"\ncpus = 2\n[daemon]\nstate_dir = \"\"\n"
        << "mount = \"" << g_dir << "/proc\"\nsocket = \"" << g_dir << "/memd.sock\"\n";
    if (o.threads > 0) cfg << "socket_threads = " << o.threads << "\n";
  }
  spawn({MEMD_BINARY, "--foreground", "--config", g_dir + "/memd.toml"}, g_dir + "/memd.log");
  spawn({"redis-server", "--port", "0", "--unixsocket", g_dir + "/redis.sock", "--save", "",
         "--appendonly", "no", "--daemonize", "no", "--maxclients", "1000"},
        g_dir + "/redis.log");
  const Server memd{"memd", g_dir + "/memd.sock", "alloc order=0 gfp=GFP_KERNEL\n",
                    "{\"ok\":true,\"allocations\":"};
  const Server redis{"redis-server", g_dir + "/redis.sock", "PING\r\n", "+PONG"};
  wait_until_serving(memd.socket, "status\n", memd.name);
  wait_until_serving(redis.socket, "PING\r\n", redis.name);

  std::printf("%d clients, %.1f s a round, median of %d rounds\n", o.clients, o.seconds, o.rounds);
  std::printf("%-8s %14s %14s %8s\n", "depth", "memd req/s", "redis req/s", "ratio");
  for (int depth : o.depths) {
    std::vector<double> m, r;
    for (int round = 0; round < o.rounds; ++round) {
      m.push_back(measure(memd, o.clients, depth, o.seconds));
      r.push_back(measure(redis, o.clients, depth, o.seconds));
    }
    const double mm = median(m), rr = median(r);
    std::printf("%-8d %14.0f %14.0f %8.2f\n", depth, mm, rr, mm / rr);
    std::fflush(stdout);
  }
  teardown();
  return 0;
}
