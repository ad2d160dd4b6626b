# Stage 1 - the append-only log.
#
# A stage is a link set: the modules and REPL command tables it adds to the
# stage before it.  `make ch1` builds build/ch1/klab from exactly these.
STAGE1_NAME   := the append-only log
STAGE1_SRCS   := $(filter-out src/core/murmur2.c,$(wildcard src/core/*.c)) $(wildcard src/log/*.c) \
                 src/repl/repl.c src/repl/show.c src/repl/cmd_log.c \
                 src/viz/dot.c src/viz/viz_log.c \
                 src/main/dump_log.c
STAGE1_TABLES := log
