package spool

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	written, drained, retries, rejected, dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Spool) *metrics {
	f := promauto.With(reg)
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yardstick_spool_records", Help: "Webhook deliveries in the spool not yet written to the store.",
	}, func() float64 { return float64(s.Stats().Records) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yardstick_spool_bytes", Help: "Bytes of the spool's records not yet written to the store.",
	}, func() float64 { return float64(s.Stats().Bytes) })
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yardstick_spool_oldest_age_seconds", Help: "Age of the oldest record in the spool not yet written to the store; 0 when empty.",
	}, func() float64 {
		st := s.Stats()
		if st.Oldest.IsZero() {
			return 0
		}
		return s.now().Sub(st.Oldest).Seconds()
	})
	f.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "yardstick_spool_max_bytes", Help: "The spool's size bound; deliveries beyond it are answered 503.",
	}, func() float64 { return float64(s.cfg.MaxBytes) })
	return &metrics{
		written:  f.NewCounter(prometheus.CounterOpts{Name: "yardstick_spool_written_total", Help: "Records written (fsynced) to the spool."}),
		drained:  f.NewCounter(prometheus.CounterOpts{Name: "yardstick_spool_drained_total", Help: "Records written from the spool to the store."}),
		retries:  f.NewCounter(prometheus.CounterOpts{Name: "yardstick_spool_store_retries_total", Help: "Store writes of the spool that failed and were retried."}),
		rejected: f.NewCounter(prometheus.CounterOpts{Name: "yardstick_spool_rejected_total", Help: "Records refused because the spool was full."}),
		dropped:  f.NewCounter(prometheus.CounterOpts{Name: "yardstick_spool_dropped_rows_total", Help: "Rows the store refused as invalid, dropped from the spool."}),
	}
}
