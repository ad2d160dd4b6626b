/*
 * uuid.c - Kafka's 128-bit ids and their base64url text (see uuid.h).
 *
 * The text form is RFC 4648 §5 "base64url" without padding, exactly what
 * Java's Base64.getUrlEncoder().withoutPadding() writes: each 3 bytes
 * become 4 characters of 6 bits, and the 16th byte, alone, becomes 2
 * characters (8 bits in 12: the last character's low 4 bits are zero).
 *
 *   bytes  517c94 f62e40 ... 58
 *   text   UXyU   9i5A   ... WA
 *
 * A strict reader refuses what a writer never writes: another length,
 * '=' padding, '+' or '/' (the other alphabet), and a last character with
 * any of its 4 low bits set - "WB" would decode to the same byte as "WA",
 * and two spellings of one id must not both be accepted.
 */
#include "core/uuid.h"

#include <string.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
uuid_to_string(const uint8_t id[UUID_BYTES], char out[UUID_STRING_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i + 3 <= UUID_BYTES; i += 3) { /* 5 groups: 15 bytes */
		uint32_t v = (uint32_t)id[i] << 16 | (uint32_t)id[i + 1] << 8 | id[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	out[o++] = alphabet[id[15] >> 2];
	out[o++] = alphabet[(id[15] & 3) << 4];
	out[o] = '\0';
}

/* The 6-bit value of c, or -1 when c is not in the base64url alphabet. */
static int
sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
uuid_parse(const char *s, size_t n, uint8_t out[UUID_BYTES], struct kerr *e)
{
	int v[UUID_STRING_LEN];

	if (n != UUID_STRING_LEN)
		return kerr_set(e, KLAB_EINVAL, "a topic id is %d base64url characters, not %zu",
				UUID_STRING_LEN, n);
	for (size_t i = 0; i < n; i++)
		if ((v[i] = sextet(s[i])) < 0)
			return kerr_set(e, KLAB_EINVAL,
					"a topic id has a character outside base64url "
					"(A-Z a-z 0-9 - _) at position %zu",
					i);
	if (v[21] & 15)
		return kerr_set(e, KLAB_EINVAL,
				"a topic id's last character must encode 2 bits (one of A Q g w)");
	for (size_t i = 0, o = 0; o < 15; i += 4, o += 3) {
		uint32_t w = (uint32_t)v[i] << 18 | (uint32_t)v[i + 1] << 12 |
			     (uint32_t)v[i + 2] << 6 | (uint32_t)v[i + 3];

		out[o] = (uint8_t)(w >> 16);
		out[o + 1] = (uint8_t)(w >> 8);
		out[o + 2] = (uint8_t)w;
	}
	out[15] = (uint8_t)(v[20] << 2 | v[21] >> 4);
	return KLAB_OK;
}

bool
uuid_is_zero(const uint8_t id[UUID_BYTES])
{
	static const uint8_t zero[UUID_BYTES];

	return memcmp(id, zero, UUID_BYTES) == 0;
}

bool
uuid_is_reserved(const uint8_t id[UUID_BYTES])
{
	static const uint8_t zero[UUID_BYTES - 1];

	return memcmp(id, zero, UUID_BYTES - 1) == 0 && id[15] <= 1;
}

bool
uuid_equal(const uint8_t a[UUID_BYTES], const uint8_t b[UUID_BYTES])
{
	return memcmp(a, b, UUID_BYTES) == 0;
}

void
uuid_random(uint64_t (*next)(void *arg), void *arg, uint8_t out[UUID_BYTES])
{
	do {
		for (int half = 0; half < 2; half++) {
			uint64_t r = next(arg);

			for (int i = 0; i < 8; i++)
				out[half * 8 + i] = (uint8_t)(r >> (56 - 8 * i));
		}
		out[6] = (uint8_t)((out[6] & 0x0f) | 0x40); /* version 4 */
		out[8] = (uint8_t)((out[8] & 0x3f) | 0x80); /* variant 10 */
	} while (uuid_is_reserved(out) || alphabet[out[0] >> 2] == '-');
}
