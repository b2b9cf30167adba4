package store

import "errors"

func isUnknown(err error) bool { return errors.Is(err, ErrKeyUnknown) }

func isNoKey(err error) bool {
	var nk *NoKeyError
	return errors.As(err, &nk)
}
