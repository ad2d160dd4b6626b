/*
 * dump_log.h - `klab dump-log`: print a segment's files the way Kafka's
 * kafka-dump-log.sh (kafka.tools.DumpLogSegments) does.
 */
#ifndef KLAB_MAIN_DUMP_LOG_H
#define KLAB_MAIN_DUMP_LOG_H

int dump_log_main(int argc, char **argv);

#endif
