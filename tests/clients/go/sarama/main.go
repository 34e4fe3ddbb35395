// sarama-client: Shopify/sarama 1.22 (Debian's golang-github-shopify-sarama-dev)
// as a user would drive it, for tests/integration/compat/test_sarama.py.
//
//	sarama-client produce  -brokers B -topic T -count N -prefix P [-version V]
//	sarama-client consume  -brokers B -topic T -group G -count N [-version V]
//	sarama-client group    -brokers B -topic T -group G -count N -version 0.10.2.0
//
// Without -version the config keeps sarama's default Version (V0_8_2_0 in
// 1.22), so the wire versions are sarama's defaults: Produce v0 (magic 0
// messages), Fetch v0, Metadata v0, ListOffsets v0, FindCoordinator v0,
// OffsetCommit v1 and OffsetFetch v1. `consume` is sarama's consumer plus its
// OffsetManager for the group (what works at the default version); `group` is
// sarama's ConsumerGroup, which refuses versions below 0.10.2.0.
//
// Consumed messages are printed to stdout, one "partition offset value" line
// each; sarama's own log goes to stderr.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type options struct {
	brokers string
	topic   string
	group   string
	prefix  string
	version string
	count   int
	timeout time.Duration
}

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: sarama-client produce|consume|group [flags]")
	}
	command := os.Args[1]
	opts := parseFlags(command, os.Args[2:])
	sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)

	var err error
	switch command {
	case "produce":
		err = produce(opts)
	case "consume":
		err = consumeWithOffsetManager(opts)
	case "group":
		err = consumeWithGroup(opts)
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
	flags.StringVar(&opts.version, "version", "", "sarama Config.Version (empty: sarama's default)")
	flags.IntVar(&opts.count, "count", 10, "messages to produce or to consume")
	flags.DurationVar(&opts.timeout, "timeout", 30*time.Second, "give up consuming after this long")
	if err := flags.Parse(args); err != nil {
		log.Fatal(err)
	}
	return opts
}

// newConfig is sarama.NewConfig() with only what the command needs on top;
// the protocol Version stays sarama's default unless -version is given.
func newConfig(opts options) (*sarama.Config, error) {
	config := sarama.NewConfig()
	config.ClientID = "sluice-sarama-test"
	if opts.version != "" {
		version, err := sarama.ParseKafkaVersion(opts.version)
		if err != nil {
			return nil, err
		}
		config.Version = version
	}
	return config, nil
}

func brokerList(opts options) []string { return strings.Split(opts.brokers, ",") }

func produce(opts options) error {
	config, err := newConfig(opts)
	if err != nil {
		return err
	}
	config.Producer.Return.Successes = true // a SyncProducer requires it
	producer, err := sarama.NewSyncProducer(brokerList(opts), config)
	if err != nil {
		return err
	}
	defer producer.Close()
	for i := 0; i < opts.count; i++ {
		message := &sarama.ProducerMessage{
			Topic: opts.topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("k-%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", opts.prefix, i)),
		}
		if _, _, err := producer.SendMessage(message); err != nil {
			return fmt.Errorf("message %d: %v", i, err)
		}
	}
	return producer.Close()
}

// printer serialises the "partition offset value" lines of concurrent
// partition consumers and says when the wanted count is reached.
type printer struct {
	mutex  sync.Mutex
	seen   int
	wanted int
	done   chan struct{}
}

func newPrinter(wanted int) *printer {
	p := &printer{wanted: wanted, done: make(chan struct{})}
	if wanted <= 0 {
		close(p.done)
	}
	return p
}

func (p *printer) print(message *sarama.ConsumerMessage) {
	p.mutex.Lock()
	defer p.mutex.Unlock()
	fmt.Printf("%d %d %s\n", message.Partition, message.Offset, message.Value)
	p.seen++
	if p.seen == p.wanted {
		close(p.done)
	}
}

func (p *printer) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return nil
	case <-time.After(timeout):
		p.mutex.Lock()
		defer p.mutex.Unlock()
		return fmt.Errorf("consumed %d of %d messages in %v", p.seen, p.wanted, timeout)
	}
}

// consumeWithOffsetManager reads every partition from the group's committed
// offset (the oldest when none), marks each message, and commits when the
// offset manager closes (and every CommitInterval before that).
func consumeWithOffsetManager(opts options) error {
	config, err := newConfig(opts)
	if err != nil {
		return err
	}
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	client, err := sarama.NewClient(brokerList(opts), config)
	if err != nil {
		return err
	}
	defer client.Close()
	offsets, err := sarama.NewOffsetManagerFromClient(opts.group, client)
	if err != nil {
		return err
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return err
	}
	partitions, err := client.Partitions(opts.topic)
	if err != nil {
		return err
	}

	out := newPrinter(opts.count)
	var readers sync.WaitGroup
	stop := make(chan struct{})
	var partitionConsumers []sarama.PartitionConsumer
	var partitionOffsets []sarama.PartitionOffsetManager
	for _, partition := range partitions {
		managed, err := offsets.ManagePartition(opts.topic, partition)
		if err != nil {
			return err
		}
		partitionOffsets = append(partitionOffsets, managed)
		next, _ := managed.NextOffset()
		reader, err := consumer.ConsumePartition(opts.topic, partition, next)
		if err != nil {
			return fmt.Errorf("partition %d from offset %d: %v", partition, next, err)
		}
		partitionConsumers = append(partitionConsumers, reader)
		readers.Add(1)
		go func(reader sarama.PartitionConsumer, managed sarama.PartitionOffsetManager) {
			defer readers.Done()
			for {
				select {
				case message := <-reader.Messages():
					out.print(message)
					managed.MarkOffset(message.Offset+1, "")
				case <-stop:
					return
				}
			}
		}(reader, managed)
	}

	waitErr := out.wait(opts.timeout)
	close(stop)
	readers.Wait()
	for _, reader := range partitionConsumers {
		reader.Close()
	}
	for _, managed := range partitionOffsets {
		managed.Close()
	}
	offsets.Close() // flushes the marked offsets to the coordinator
	return waitErr
}

// groupHandler prints every claimed message and marks it consumed; the
// session commits the marks (every CommitInterval and when it ends).
type groupHandler struct{ out *printer }

func (groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h groupHandler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for message := range claim.Messages() {
		h.out.print(message)
		session.MarkMessage(message, "")
	}
	return nil
}

func consumeWithGroup(opts options) error {
	config, err := newConfig(opts)
	if err != nil {
		return err
	}
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	config.Consumer.Return.Errors = true
	group, err := sarama.NewConsumerGroup(brokerList(opts), opts.group, config)
	if err != nil {
		return err
	}
	go func() {
		for err := range group.Errors() {
			log.Printf("group error: %v", err)
		}
	}()

	out := newPrinter(opts.count)
	ctx, cancel := context.WithCancel(context.Background())
	sessions := make(chan error, 1)
	go func() {
		// Consume returns at every rebalance: join again until cancelled.
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{opts.topic}, groupHandler{out}); err != nil {
				sessions <- err
				return
			}
		}
		sessions <- nil
	}()

	waitErr := out.wait(opts.timeout)
	cancel()
	if err := <-sessions; err != nil && waitErr == nil {
		waitErr = err
	}
	if err := group.Close(); err != nil && waitErr == nil {
		waitErr = err
	}
	return waitErr
}
