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
 *
 * The instruction needs 3 cycles for its answer but can start a new one
 * every cycle, so a single chain of CRC32s uses a third of it.  Long inputs
 * are therefore cut into blocks of three lanes, whose CRCs run side by side
 * and are then joined.  The join rests on CRC being linear: the register
 * after "a then b" is the register after a, carried over len(b) zero bytes,
 * xor the register after b started from 0.  Carrying a register over a
 * fixed number of zero bytes is a linear map on 32 bits, kept as four
 * 256-entry tables (shift_long, shift_short) built with the others.  This
 * is the scheme of Intel's crc_pcl and Mark Adler's crc32c.c.
 */
#include "core/crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected Castagnoli */

#define LANE_LONG 8192 /* bytes a lane: blocks of 24 KiB, */
#define LANE_SHORT 256 /* then of 768 bytes */

static uint32_t table[8][256];
static uint32_t shift_long[4][256], shift_short[4][256]; /* over LANE_* zero bytes */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/* Register r carried over n zero bytes, a byte at a time (table[0] built). */
static uint32_t
zeros_slow(uint32_t r, size_t n)
{
	while (n-- > 0)
		r = (r >> 8) ^ table[0][r & 0xff];
	return r;
}

/* t[k][b] = (b << 8k) carried over n zero bytes: xor of the images of its bits. */
static void
shift_build(uint32_t t[4][256], size_t n)
{
	uint32_t bit[32];

	for (int i = 0; i < 32; i++)
		bit[i] = zeros_slow(1u << i, n);
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			t[k][b] = 0;
			for (int i = 0; i < 8; i++)
				if (b & (1u << i))
					t[k][b] ^= bit[8 * k + i];
		}
}

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
	shift_build(shift_long, LANE_LONG);
	shift_build(shift_short, LANE_SHORT);
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

/* Register r carried over the zero bytes of table t. */
static uint32_t
shift(const uint32_t t[4][256], uint32_t r)
{
	return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

/* Whole blocks of three lanes of `lane` bytes from *p: three chains, joined. */
__attribute__((target("sse4.2"))) static uint64_t
crc_lanes(uint64_t c, const uint8_t **p, size_t *n, size_t lane, const uint32_t t[4][256])
{
	const uint8_t *q = *p;
	uint64_t c1, c2, w0, w1, w2;

	for (; *n >= 3 * lane; *n -= 3 * lane, q += 3 * lane) {
		c1 = c2 = 0;
		for (size_t i = 0; i < lane; i += 8) {
			memcpy(&w0, q + i, 8);
			memcpy(&w1, q + lane + i, 8);
			memcpy(&w2, q + 2 * lane + i, 8);
			c = _mm_crc32_u64(c, w0);
			c1 = _mm_crc32_u64(c1, w1);
			c2 = _mm_crc32_u64(c2, w2);
		}
		c = shift(t, (uint32_t)c) ^ c1;
		c = shift(t, (uint32_t)c) ^ c2;
	}
	*p = q;
	return c;
}

__attribute__((target("sse4.2"))) uint32_t
crc32c_hardware(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	uint64_t c = ~crc, w;

	pthread_once(&table_once, table_build);
	c = crc_lanes(c, &p, &n, LANE_LONG, shift_long);
	c = crc_lanes(c, &p, &n, LANE_SHORT, shift_short);
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
