//! `esmc_id(x)`: [`esmc_schemas::id_from_str`] as a DataFusion scalar function, for the
//! builder's Parquet files with string ID columns and for `esmc sql`.
//!
//! ```text
//!  Utf8 / LargeUtf8 / Utf8View ── id_from_str per value ──> Int64 ("" → NULL)
//!  Int64 (other integers coerced) ── unchanged ───────────> Int64
//! ```

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use esmc_schemas::id_from_str;
use std::sync::Arc;

/// The name of the function in SQL.
pub const ESMC_ID: &str = "esmc_id";

/// `esmc_id(x)`: the `Int64` ID esmc carries for the ID `x`, a string (mapped by
/// [`id_from_str`]: digits give their value, any other text a negative 64-bit hash,
/// empty text NULL) or an integer (unchanged). NULL in, NULL out.
pub fn esmc_id_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(EsmcId {
        signature: Signature::uniform(
            1,
            vec![
                DataType::Utf8,
                DataType::LargeUtf8,
                DataType::Utf8View,
                DataType::Int64,
            ],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct EsmcId {
    signature: Signature,
}

impl ScalarUDFImpl for EsmcId {
    fn name(&self) -> &str {
        ESMC_ID
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("esmc_id takes one argument, got {}", args.args.len());
        };
        match arg {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(map_ids(a)?)),
            ColumnarValue::Scalar(s) => {
                let mapped = map_ids(&s.to_array_of_size(1)?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &mapped, 0,
                )?))
            }
        }
    }
}

/// Maps a column of string (or integer) IDs to `Int64` IDs.
pub(crate) fn map_ids(a: &ArrayRef) -> Result<ArrayRef> {
    let ids: Int64Array = match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().iter().map(map_one).collect(),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().map(map_one).collect(),
        DataType::Utf8View => a.as_string_view().iter().map(map_one).collect(),
        DataType::Int64 => return Ok(Arc::clone(a)),
        DataType::Null => Int64Array::new_null(a.len()),
        other => return exec_err!("esmc_id: an ID must be a string or an integer, got {other}"),
    };
    Ok(Arc::new(ids))
}

fn map_one(v: Option<&str>) -> Option<i64> {
    v.and_then(id_from_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{LargeStringArray, StringArray, StringViewArray};

    #[test]
    fn every_string_type_maps_alike() {
        let values = [Some("42"), Some("u_8f3a"), None, Some("")];
        let want = Int64Array::from(vec![Some(42), Some(-5163780481812918789), None, None]);
        let arrays: [ArrayRef; 3] = [
            Arc::new(StringArray::from(values.to_vec())),
            Arc::new(LargeStringArray::from(values.to_vec())),
            Arc::new(StringViewArray::from(values.to_vec())),
        ];
        for a in arrays {
            let got = map_ids(&a).unwrap();
            assert_eq!(got.as_primitive(), &want, "{}", a.data_type());
        }
    }

    #[tokio::test]
    async fn in_sql_strings_and_integers_map() {
        let ctx = datafusion::prelude::SessionContext::new();
        ctx.register_udf(esmc_id_udf());
        let batches = ctx
            .sql("SELECT esmc_id('u_8f3a'), esmc_id('007'), esmc_id(7), esmc_id(NULL)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let row: Vec<Option<i64>> = batches[0]
            .columns()
            .iter()
            .map(|c| {
                let c = arrow::compute::cast(c, &DataType::Int64).unwrap();
                let c = c.as_primitive::<arrow::datatypes::Int64Type>();
                c.is_valid(0).then(|| c.value(0))
            })
            .collect();
        assert_eq!(
            row,
            vec![Some(-5163780481812918789), Some(7), Some(7), None]
        );
    }
}
