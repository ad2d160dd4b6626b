/*
 * crc32c.h - CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected
 * 0x82F63B78), the checksum of Kafka's RecordBatch v2.
 *
 * crc32c(0, p, n) is the checksum of p[0..n).  To checksum in pieces pass
 * the previous result: crc32c(crc32c(0, a, n), b, m) == crc32c(0, ab, n+m).
 *
 * On x86-64 processors with SSE 4.2 the CRC32 instruction computes it (about
 * 8 bytes a cycle); elsewhere a portable slice-by-8 table does.  Both give
 * the same results: tests check them against each other and against the
 * published vectors of RFC 3720 (iSCSI) B.4.
 */
#ifndef KLAB_CORE_CRC32C_H
#define KLAB_CORE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *p, size_t n);

/* The two implementations, exposed so tests can compare them. */
uint32_t crc32c_portable(uint32_t crc, const void *p, size_t n);
uint32_t crc32c_hardware(uint32_t crc, const void *p, size_t n);
bool crc32c_hardware_available(void);

#endif
