# Stage 2 - topics and partitions: stage 1 plus topics, partitioners,
# serializers, the producer's accumulator, and their REPL commands.
STAGE2_NAME   := topics and partitions
STAGE2_SRCS   := $(STAGE1_SRCS) src/core/murmur2.c $(wildcard src/topic/*.c) \
                 src/repl/cmd_topic.c src/viz/viz_topic.c
STAGE2_TABLES := $(STAGE1_TABLES) topic
