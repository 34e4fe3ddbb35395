// kafka-go-client: segmentio/kafka-go 0.2 (Debian's
// golang-github-segmentio-kafka-go-dev) with its defaults, for
// tests/integration/compat/test_kafka_go.py.
//
//	kafka-go-client produce -brokers B -topic T -count N -prefix P
//	kafka-go-client consume -brokers B -topic T -group G -count N
//
// kafka-go 0.2 sends fixed versions: Produce v2 (magic 1 messages), Fetch v2,
// ListOffsets v1, Metadata v1, FindCoordinator v0, JoinGroup v1, SyncGroup
// v0, Heartbeat v0, OffsetCommit v2, OffsetFetch v1. `consume` is a group
// Reader whose ReadMessage commits each message synchronously; -max-wait and
// -session-timeout shorten the waits of kafka-go 0.2 (see consume). Consumed
// messages are printed to stdout, one "partition offset value" line each.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

type options struct {
	brokers string
	topic   string
	group   string
	prefix  string
	count   int
	timeout time.Duration
	debug   bool
	// Reader tuning, not protocol: 0 keeps kafka-go's default.
	maxWait        time.Duration
	sessionTimeout time.Duration
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: kafka-go-client produce|consume [flags]")
	}
	command := os.Args[1]
	opts := parseFlags(command, os.Args[2:])

	var err error
	switch command {
	case "produce":
		err = produce(opts)
	case "consume":
		err = consume(opts)
	default:
		err = fmt.Errorf("unknown command %q", command)
	}
	if err != nil {
		log.Fatalf("%s: %v", command, err)
	}
}

func parseFlags(command string, args []string) options {
	var opts options
	flags := flag.NewFlagSet(command, flag.ExitOnError)
	flags.StringVar(&opts.brokers, "brokers", "127.0.0.1:9092", "comma-separated bootstrap brokers")
	flags.StringVar(&opts.topic, "topic", "", "topic")
	flags.StringVar(&opts.group, "group", "", "consumer group")
	flags.StringVar(&opts.prefix, "prefix", "m", "produced values are <prefix>-<i>")
	flags.IntVar(&opts.count, "count", 10, "messages to produce or to consume")
	flags.DurationVar(&opts.timeout, "timeout", 30*time.Second, "give up after this long")
	flags.BoolVar(&opts.debug, "debug", false, "kafka-go's own log on stderr too")
	flags.DurationVar(&opts.maxWait, "max-wait", 0, "ReaderConfig.MaxWait (0: kafka-go's 10s)")
	flags.DurationVar(&opts.sessionTimeout, "session-timeout", 0, "ReaderConfig.SessionTimeout (0: kafka-go's 30s)")
	if err := flags.Parse(args); err != nil {
		log.Fatal(err)
	}
	return opts
}

func brokerList(opts options) []string { return strings.Split(opts.brokers, ",") }

func produce(opts options) error {
	writer := kafka.NewWriter(kafka.WriterConfig{
		Brokers:     brokerList(opts),
		Topic:       opts.topic,
		ErrorLogger: log.New(os.Stderr, "[kafka-go writer] ", log.Ltime|log.Lmicroseconds),
	})
	messages := make([]kafka.Message, opts.count)
	for i := range messages {
		messages[i] = kafka.Message{
			Key:   []byte(fmt.Sprintf("k-%d", i)),
			Value: []byte(fmt.Sprintf("%s-%d", opts.prefix, i)),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	if err := writer.WriteMessages(ctx, messages...); err != nil {
		writer.Close()
		return err
	}
	return writer.Close()
}

func consume(opts options) error {
	config := kafka.ReaderConfig{
		Brokers:     brokerList(opts),
		Topic:       opts.topic,
		GroupID:     opts.group,
		ErrorLogger: log.New(os.Stderr, "[kafka-go reader] ", log.Ltime|log.Lmicroseconds),
		// kafka-go 0.2 fetches with MinBytes = MaxBytes (1 MB) by default, so
		// every Fetch waits MaxWait, and Close waits for the Fetch in flight.
		MaxWait: opts.maxWait,
		// Close never sends its LeaveGroup (it dials the coordinator with a
		// context it has just cancelled), so the group's next member waits
		// for this one's session to time out.
		SessionTimeout: opts.sessionTimeout,
	}
	if opts.debug {
		config.Logger = log.New(os.Stderr, "[kafka-go reader debug] ", log.Ltime|log.Lmicroseconds)
	}
	reader := kafka.NewReader(config)
	ctx, cancel := context.WithTimeout(context.Background(), opts.timeout)
	defer cancel()
	for seen := 0; seen < opts.count; seen++ {
		message, err := reader.ReadMessage(ctx) // commits it: the reader has a GroupID
		if err != nil {
			reader.Close()
			return fmt.Errorf("after %d of %d messages: %v", seen, opts.count, err)
		}
		fmt.Printf("%d %d %s\n", message.Partition, message.Offset, message.Value)
	}
	return reader.Close()
}
