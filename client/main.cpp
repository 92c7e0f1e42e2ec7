// memctl: see client/memctl.h.
#include <iostream>
#include <string>
#include <vector>

#include "client/memctl.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return memd::client::run(args, memd::client::Environment::from_process(), std::cout, std::cerr);
}
