/*
 * frame.c - cutting a byte stream into size-prefixed frames (chapter 3 §1).
 *
 * Kafka's and ZooKeeper's wire protocols put an int32 big-endian size in
 * front of every request and response; the size counts the bytes after
 * it.  Both runtimes call frame_size() on the bytes received so far and
 * hand a node one whole frame at a time.
 *
 * Invariant: frame_size() never reads past avail bytes, and never returns
 * a length above 4 + max_frame, so a runtime can bound its input buffer
 * before it allocates it.
 */
#include "net/node.h"

#include "core/buf.h"

int64_t
frame_size(const uint8_t *p, size_t avail, int32_t max_frame)
{
	int32_t size;

	if (avail < 4)
		return 0;
	size = (int32_t)be32_read(p);
	if (size < 0)
		return KLAB_ECORRUPT;
	if (size > max_frame)
		return KLAB_ETOOLARGE;
	return 4 + (int64_t)size;
}

int64_t
frame_parts_size(const struct rt_part *parts, size_t n)
{
	int64_t total = 0;

	if (n == 0 || parts[0].len < 4)
		return KLAB_EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t flen = parts[i].file != NULL ? parts[i].file_len : 0;

		if (parts[i].len > (size_t)INT32_MAX || flen > (size_t)INT32_MAX ||
		    parts[i].file_off < 0)
			return KLAB_EINVAL;
		total += (int64_t)parts[i].len + (int64_t)flen;
		if (total > 4 + (int64_t)INT32_MAX)
			return KLAB_EINVAL;
	}
	return frame_size(parts[0].bytes, parts[0].len, INT32_MAX) == total ? total : KLAB_EINVAL;
}
