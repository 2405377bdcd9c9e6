package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type recordConfig struct {
	Endpoints      []string
	CACert, Cert   string
	Key            string
	Clients        int
	Keys           int
	Prefix         string        // keys are Prefix + "k0", "k1", ...; a fresh prefix per run, so every key starts absent
	Duration       time.Duration // stop after this long ...
	MaxOps         int           // ... or this many operations, whichever comes first
	OpTimeout      time.Duration // an operation not answered by then is an unknown outcome
	Interval       time.Duration // pause between one client's operations
	BackoffOnError time.Duration // pause after an error, so an unreachable member does not pile up unknowns
	Seed           int64
}

func (c recordConfig) tls() (*tls.Config, error) {
	if c.CACert == "" && c.Cert == "" && c.Key == "" {
		return nil, nil
	}
	if c.CACert == "" || c.Cert == "" || c.Key == "" {
		return nil, fmt.Errorf("--cacert, --cert and --key go together")
	}
	return transport.TLSInfo{TrustedCAFile: c.CACert, CertFile: c.Cert, KeyFile: c.Key}.ClientConfig()
}

// record runs the clients until the duration, the operation count or stop (a signal) ends the run, and
// returns every operation issued, each with its outcome.
func record(cfg recordConfig, stop <-chan struct{}) (*History, error) {
	tlsCfg, err := cfg.tls()
	if err != nil {
		return nil, err
	}
	keys := make([]string, cfg.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("%sk%d", cfg.Prefix, i)
	}
	// One client per endpoint in turn: every member serves reads and forwards writes, each on its own.
	clients := make([]*clientv3.Client, cfg.Clients)
	kvs := make([]clientv3.KV, cfg.Clients)
	for i := range clients {
		c, err := clientv3.New(clientv3.Config{
			Endpoints: []string{cfg.Endpoints[i%len(cfg.Endpoints)]},
			TLS:       tlsCfg,
			Logger:    zap.NewNop(), // no dial timeout: New does not wait for a member that is down at the start
		})
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", cfg.Endpoints[i%len(cfg.Endpoints)], err)
		}
		defer c.Close()
		clients[i] = c
		kvs[i] = clientv3.NewKVFromKVClient(failFast{clientv3.RetryKVClient(c)}, c)
	}

	start := time.Now()
	now := func() int64 { return time.Since(start).Nanoseconds() }
	deadline, cancel := context.WithTimeout(context.Background(), cfg.Duration)
	defer cancel()
	var issued atomic.Int64
	var stoppedBy atomic.Value
	stoppedBy.Store("duration")
	go func() {
		select {
		case <-stop:
			stoppedBy.Store("signal")
			cancel()
		case <-deadline.Done():
		}
	}()

	perClient := make([][]Op, cfg.Clients)
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(cfg.Seed + int64(id)))
			endpoint := cfg.Endpoints[id%len(cfg.Endpoints)]
			last := map[string]string{} // the last value this client saw per key: what its CAS expects
			for seq := 1; deadline.Err() == nil; seq++ {
				if issued.Add(1) > int64(cfg.MaxOps) {
					stoppedBy.Store("max-ops")
					cancel()
					return
				}
				op := Op{Client: id, Key: keys[rng.Intn(len(keys))], Endpoint: endpoint}
				switch r := rng.Intn(10); {
				case r < 4:
					op.Kind = KindGet
				case r < 7:
					op.Kind, op.Value = KindPut, fmt.Sprintf("c%d-%d", id, seq)
				default:
					op.Kind, op.Value, op.Expect = KindCAS, fmt.Sprintf("c%d-%d", id, seq), last[op.Key]
				}
				// Each operation gets its own timeout, not the run's deadline: an operation in flight when
				// the run ends is still answered (or times out into an unknown).
				ctx, opCancel := context.WithTimeout(context.Background(), cfg.OpTimeout)
				op.Call = now()
				err := do(ctx, kvs[id], &op)
				op.Return = now()
				opCancel()
				pause := cfg.Interval
				if err != nil {
					op.Error = errorText(err)
					op.Outcome = OutcomeUnknown
					if op.Kind == KindGet || neverSent(err) {
						op.Outcome = OutcomeFailed
					}
					pause = cfg.BackoffOnError
				} else {
					op.Outcome = OutcomeOK
					switch {
					case op.Kind == KindGet:
						last[op.Key] = op.Read
					case op.Kind == KindPut || op.Succeeded:
						last[op.Key] = op.Value
					default:
						delete(last, op.Key) // failed CAS: re-read before the next one can succeed
					}
				}
				perClient[id] = append(perClient[id], op)
				select {
				case <-deadline.Done():
				case <-time.After(pause):
				}
			}
		}(id)
	}
	wg.Wait()

	h := &History{Endpoints: cfg.Endpoints, Clients: cfg.Clients, Keys: keys, StartedAt: start.UTC().Format(time.RFC3339Nano),
		End: now(), StoppedBy: stoppedBy.Load().(string)}
	for _, ops := range perClient {
		h.Ops = append(h.Ops, ops...)
	}
	return h, nil
}

func do(ctx context.Context, kv clientv3.KV, op *Op) error {
	switch op.Kind {
	case KindGet:
		resp, err := kv.Get(ctx, op.Key) // linearizable: the default
		if err != nil {
			return err
		}
		if len(resp.Kvs) > 0 {
			op.Read = string(resp.Kvs[0].Value)
		}
	case KindPut:
		_, err := kv.Put(ctx, op.Key, op.Value)
		return err
	case KindCAS:
		cmp := clientv3.Compare(clientv3.Value(op.Key), "=", op.Expect)
		if op.Expect == "" {
			// etcd fails every value comparison on a missing key: "absent" is create revision 0.
			cmp = clientv3.Compare(clientv3.CreateRevision(op.Key), "=", 0)
		}
		resp, err := kv.Txn(ctx).If(cmp).Then(clientv3.OpPut(op.Key, op.Value)).Commit()
		if err != nil {
			return err
		}
		op.Succeeded = resp.Succeeded
	}
	return nil
}

// failFast turns off clientv3's wait-for-ready (the last call option wins): with no connection to its
// member, a request fails at once with the dial error, known not sent, instead of waiting into a timeout
// whose outcome would be unknown.
type failFast struct{ pb.KVClient }

func (f failFast) Range(ctx context.Context, in *pb.RangeRequest, opts ...grpc.CallOption) (*pb.RangeResponse, error) {
	return f.KVClient.Range(ctx, in, append(opts, grpc.WaitForReady(false))...)
}
func (f failFast) Put(ctx context.Context, in *pb.PutRequest, opts ...grpc.CallOption) (*pb.PutResponse, error) {
	return f.KVClient.Put(ctx, in, append(opts, grpc.WaitForReady(false))...)
}
func (f failFast) Txn(ctx context.Context, in *pb.TxnRequest, opts ...grpc.CallOption) (*pb.TxnResponse, error) {
	return f.KVClient.Txn(ctx, in, append(opts, grpc.WaitForReady(false))...)
}

// neverSent: the request certainly did not reach the member. gRPC fails an RPC with Unavailable and the
// dial error, before sending anything, when it has no connection (the member is down or unreachable) -
// the case clientv3 itself treats as safe to retry for writes (isSafeRetryMutableRPC). Any other error of
// a write (a timeout, a reset connection, a server error) leaves its outcome unknown.
func neverSent(err error) bool {
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.Unavailable && strings.Contains(s.Message(), "transport: Error while dialing")
}

// errorText shortens gRPC errors to their message, so the report groups them.
func errorText(err error) string {
	if err == context.DeadlineExceeded {
		return "timeout"
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
