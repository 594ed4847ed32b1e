// The process-wide default generator.
#include "random.h"

namespace lamina {

Generator& default_generator() {
    static Generator g;
    return g;
}

void manual_seed(uint64_t seed) {
    default_generator().seed.store(seed);
    default_generator().offset.store(0);
}

}  // namespace lamina
