/*
 * crc32c.c - CRC-32C, with the CPU instruction where present.
 *
 * The portable version is the classic "slice-by-8": eight 256-entry tables
 * let the loop consume 8 bytes per iteration with 8 table look-ups.  The
 * tables are computed once (pthread_once) and never written again, so after
 * start-up they are as constant as if they were literals.
 *
 * The hardware version uses SSE 4.2's CRC32 instruction, which implements
 * exactly this polynomial (Intel chose it for iSCSI).  It is compiled with a
 * target attribute, so the rest of the project needs no -msse4.2, and used
 * only when the running CPU reports the feature.
 */
#include "core/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli */

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t
crc32c_portable(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t w;

	pthread_once(&table_once, table_build);
	crc = ~crc;
	while (n >= 8) {
		memcpy(&w, p, 8);
		w ^= crc; /* little-endian load: the low 4 bytes meet the crc */
		crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
		      table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^
		      table[2][(w >> 40) & 0xff] ^ table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) uint32_t
crc32c_hardware(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t c = ~crc, w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		c = _mm_crc32_u64(c, w);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

bool
crc32c_hardware_available(void)
{
	return __builtin_cpu_supports("sse4.2");
}
#else
uint32_t
crc32c_hardware(uint32_t crc, const void *data, size_t n)
{
	return crc32c_portable(crc, data, n);
}

bool
crc32c_hardware_available(void)
{
	return false;
}
#endif

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	if (crc32c_hardware_available())
		return crc32c_hardware(crc, p, n);
	return crc32c_portable(crc, p, n);
}
