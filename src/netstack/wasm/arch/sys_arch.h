/* NO_SYS=1: lwIP needs no OS primitives; this header only has to exist. */
#ifndef NEWT_ARCH_SYS_ARCH_H
#define NEWT_ARCH_SYS_ARCH_H
#endif
