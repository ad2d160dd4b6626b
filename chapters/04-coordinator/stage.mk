# Stage 4 - the coordinator: stage 3 plus a ZooKeeper-style znode server
# and its client (src/coord: the data tree, sessions, watches, ACLs, the
# transaction log and snapshots in ZooKeeper's formats), speaking
# ZooKeeper's client protocol over jute (src/proto/jute.c, beside Kafka's
# codec).  In progress: built and tested by `make test`, not yet the
# latest stage (Makefile: IN_PROGRESS).
STAGE4_NAME   := coordinator
STAGE4_SRCS   := $(STAGE3_SRCS) $(wildcard src/coord/*.c)
STAGE4_TABLES := $(STAGE3_TABLES)
