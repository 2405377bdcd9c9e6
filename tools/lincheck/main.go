// lincheck records a history of concurrent etcd client operations and checks it for linearizability
// (porcupine, a key-value model with compare-and-swap, checked key by key).
//
//	lincheck run    --endpoints URL,... [--cacert F --cert F --key F] --history H.json --report R.json [options]
//	lincheck record --endpoints URL,... [--cacert F --cert F --key F] --history H.json [options]
//	lincheck check  --history H.json [--report R.json] [--check-timeout 2m]
//
// run = record, then check. The recording ends after --duration, after --max-ops operations, or on
// SIGTERM/SIGINT (operations in flight are still answered or time out). The report (JSON) goes to stdout and
// to --report; on a violation porcupine's visualization is written next to it (R.html, or H.html).
// Exit status: 0 linearizable; 1 not linearizable, or the checker ran out of time; 2 usage or run error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	code, err := run(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "lincheck:", err)
	}
	os.Exit(code)
}

var errUsage = errors.New("usage: lincheck run|record|check [options] (lincheck <command> -h for options)")

func run(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errUsage
	}
	cmd, args := args[0], args[1:]
	if cmd == "-h" || cmd == "--help" || cmd == "help" {
		fmt.Println(errUsage.Error()[len("usage: "):])
		return 0, nil
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var cfg recordConfig
	var endpoints string
	historyPath := fs.String("history", "", "history file (JSON): written by run and record, read by check")
	reportPath := fs.String("report", "", "report file (JSON); also printed on stdout")
	checkTimeout := fs.Duration("check-timeout", 2*time.Minute, "give up checking after this long (verdict undetermined)")
	if cmd == "run" || cmd == "record" {
		fs.StringVar(&endpoints, "endpoints", "", "comma-separated client URLs of all members")
		fs.StringVar(&cfg.CACert, "cacert", "", "CA bundle to verify the members (as etcdctl)")
		fs.StringVar(&cfg.Cert, "cert", "", "client certificate (as etcdctl)")
		fs.StringVar(&cfg.Key, "key", "", "client key (as etcdctl)")
		fs.IntVar(&cfg.Clients, "clients", 6, "concurrent clients, spread over the endpoints in turn")
		fs.IntVar(&cfg.Keys, "keys", 4, "keys the clients share")
		fs.StringVar(&cfg.Prefix, "prefix", fmt.Sprintf("/lincheck/%d/", time.Now().UnixNano()), "key prefix, fresh per run")
		fs.DurationVar(&cfg.Duration, "duration", time.Minute, "stop after this long")
		fs.IntVar(&cfg.MaxOps, "max-ops", 20000, "stop after this many operations")
		fs.DurationVar(&cfg.OpTimeout, "op-timeout", 2*time.Second, "an operation unanswered by then is an unknown outcome")
		fs.DurationVar(&cfg.Interval, "interval", 20*time.Millisecond, "pause between one client's operations")
		fs.DurationVar(&cfg.BackoffOnError, "backoff", 200*time.Millisecond, "pause after an error")
		fs.Int64Var(&cfg.Seed, "seed", time.Now().UnixNano(), "random seed of the operation mix")
	} else if cmd != "check" {
		return 2, errUsage
	}
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if fs.NArg() > 0 || *historyPath == "" {
		return 2, fmt.Errorf("%s: --history is required and there are no positional arguments", cmd)
	}

	var h *History
	if cmd == "check" {
		var err error
		if h, err = loadHistory(*historyPath); err != nil {
			return 2, err
		}
	} else {
		cfg.Endpoints = strings.FieldsFunc(endpoints, func(r rune) bool { return r == ',' })
		switch {
		case len(cfg.Endpoints) == 0:
			return 2, fmt.Errorf("%s: --endpoints is required", cmd)
		case cfg.Clients < 1 || cfg.Keys < 1 || cfg.MaxOps < 1 || cfg.Duration <= 0 || cfg.OpTimeout <= 0:
			return 2, fmt.Errorf("%s: --clients, --keys, --max-ops, --duration and --op-timeout must be positive", cmd)
		}
		stop := make(chan struct{})
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		go func() { <-sigs; close(stop) }()
		var err error
		if h, err = record(cfg, stop); err != nil {
			return 2, err
		}
		if err := writeJSON(*historyPath, h); err != nil {
			return 2, err
		}
		if cmd == "record" {
			r := summarize(h)
			r.Verdict, r.History = "not checked", *historyPath
			return 0, printReport(r, *reportPath)
		}
	}

	r := summarize(h)
	r.History = *historyPath
	htmlPath := strings.TrimSuffix(*historyPath, ".json") + ".html"
	if *reportPath != "" {
		htmlPath = strings.TrimSuffix(*reportPath, ".json") + ".html"
	}
	verdict, err := check(h, *checkTimeout, htmlPath)
	r.Verdict = verdict
	if verdict == NotLinearizable && err == nil {
		r.Visualization = htmlPath
	}
	if perr := printReport(r, *reportPath); perr != nil {
		return 2, perr
	}
	if err != nil {
		return 2, err
	}
	if verdict != Linearizable {
		return 1, nil
	}
	return 0, nil
}

func printReport(r Report, path string) error {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	if path == "" {
		return nil
	}
	return writeJSON(path, r)
}
