# Stage 3 - brokers (in progress): stage 2 plus the runtime (src/net: the
# deterministic simulator and the real epoll loop) and the Kafka protocol
# codec (src/broker).  There is no broker node and no REPL table yet, so
# stage 3 is built and tested (`make test-ch3`) but `make run` and
# build/klab stay on stage 2 until it is complete.
STAGE3_NAME   := brokers
STAGE3_SRCS   := $(STAGE2_SRCS) $(wildcard src/net/*.c) $(wildcard src/broker/*.c)
STAGE3_TABLES := $(STAGE2_TABLES)
STAGE3_SRCS   += src/main/broker_main.c
# The clients (src/client: producer, consumer, admin) and the tools built
# on them (klab topics / produce / consume).
STAGE3_SRCS   += $(wildcard src/client/*.c)
STAGE3_SRCS   += src/main/tools.c src/main/topics_main.c src/main/produce_main.c \
                 src/main/consume_main.c
