#include "broker/binlog/mysql_source.h"
