package githost

import (
	"context"

	"github.com/yardstick-dev/yardstick/collectors"
)

// Shipment is what a successful deployment shipped.
type Shipment struct {
	BaseSHA string   // "" for the first known deployment of the environment
	SHAs    []string // the deployed sha included
}

// Deploy is a successful deployment whose shipped commits are wanted.
type Deploy struct {
	Env     string
	Success collectors.DeploySuccess
	// Older finds the latest successful deployment of Env before this one
	// when the saved successes know none.
	Older func(ctx context.Context) (collectors.DeploySuccess, bool, error)
	// Compare returns the shas of the commits head has and base has not.
	Compare func(ctx context.Context, base, head string) ([]string, error)
}

// Shipped returns what d shipped: the commits between the previous
// successful deployment of its environment (from succ, or else d.Older) and
// its sha. A base that is gone (force push) gives an empty Shipment.
func Shipped(ctx context.Context, succ collectors.DeploySuccesses, d Deploy) (Shipment, error) {
	prev, ok := succ.Previous(d.Env, d.Success.ID)
	if !ok {
		var err error
		if prev, ok, err = d.Older(ctx); err != nil {
			return Shipment{}, err
		}
	}
	if !ok {
		return Shipment{}, nil
	}
	if prev.SHA == d.Success.SHA {
		return Shipment{BaseSHA: prev.SHA}, nil
	}
	shas, err := d.Compare(ctx, prev.SHA, d.Success.SHA)
	if IsNotFound(err) {
		// The base is gone (force push): the deployment is known, its range is not.
		return Shipment{}, nil
	}
	if err != nil {
		return Shipment{}, err
	}
	return Shipment{BaseSHA: prev.SHA, SHAs: shas}, nil
}

// Ship is Shipped for a webhook delivery: it reads the repository's saved
// successes and then records d among them.
func (s *States[S]) Ship(ctx context.Context, repo string, d Deploy) (Shipment, error) {
	saved, err := s.Load(ctx, repo)
	if err != nil {
		return Shipment{}, err
	}
	ship, err := Shipped(ctx, s.Successes(&saved).Clone(), d)
	if err != nil {
		return Shipment{}, err
	}
	err = s.Update(ctx, repo, func(cur *S) {
		succ := s.Successes(cur)
		if *succ == nil {
			*succ = collectors.DeploySuccesses{}
		}
		succ.Add(d.Env, d.Success)
	})
	return ship, err
}
