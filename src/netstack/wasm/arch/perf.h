/* No performance hooks. */
#ifndef NEWT_ARCH_PERF_H
#define NEWT_ARCH_PERF_H
#define PERF_START
#define PERF_STOP(x)
#endif
