# Stage 1 - the append-only log.
#
# A stage is a link set: the modules and REPL command tables it adds to the
# stage before it.  `make ch1` builds build/ch1/klab from exactly these.
STAGE1_NAME   := the append-only log
# A log needs a disk: stage 1 links the runtime's two storage backends
# (core/fs.h is the interface; the real disk and the simulated one).
STAGE1_DISKS  := src/net/disk_real.c $(wildcard src/net/disk_sim.c)
STAGE1_SRCS   := $(filter-out src/core/murmur2.c,$(wildcard src/core/*.c)) $(wildcard src/log/*.c) \
                 src/repl/repl.c src/repl/show.c src/repl/cmd_log.c \
                 src/viz/dot.c src/viz/viz_log.c \
                 src/main/dump_log.c \
                 $(STAGE1_DISKS)
STAGE1_TABLES := log
