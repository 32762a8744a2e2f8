// Built by scripts/test.sh against the installed package: proves find_package(roofline) works.
#include <iostream>

#include "roofline.hpp"

int main() {
  using namespace roofline;
  const double b = bytes_per_element(parse_precision("NVFP4"));
  if (b != 0.5625) {
    std::cerr << "consumer: NVFP4 bytes per element " << b << " != 0.5625\n";
    return 1;
  }
  std::cout << "consumer: roofline::core linked; NVFP4 = " << b << " B/element\n";
  return 0;
}
