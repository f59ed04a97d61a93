package expect

import "reflect"

var reflectAny = reflect.TypeOf((*any)(nil)).Elem()
