# Stage 3 - brokers: stage 2 plus the runtime (src/net: the deterministic
# simulator and the real epoll loop), the Kafka protocol and the broker
# (src/proto, the codec both sides share; src/broker, a static cluster), the clients (src/client: producer,
# consumer, admin), the tools built on them (klab broker / topics /
# produce / consume), and the shell's cluster table (src/repl/cmd_cluster.c,
# cmd_cluster_data.c, cluster_world.c: a simulated three-broker cluster, or
# `connect` to a real one).
STAGE3_NAME   := brokers
STAGE3_SRCS   := $(STAGE2_SRCS) $(filter-out $(STAGE1_DISKS),$(wildcard src/net/*.c)) $(wildcard src/proto/*.c) $(wildcard src/broker/*.c)
STAGE3_SRCS   += $(wildcard src/client/*.c)
STAGE3_SRCS   += src/main/broker_main.c src/main/tools.c src/main/topics_main.c \
                 src/main/produce_main.c src/main/consume_main.c src/repl/cmd_cluster.c \
                 src/repl/cmd_cluster_data.c src/repl/cluster_world.c
STAGE3_TABLES := $(STAGE2_TABLES) cluster
